"""/health, /ready, /metrics, /model and the body-size limit."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.main import create_app
from app.model_manager import ModelManager
from app.schemas import EXAMPLE_MOVIE
from moviescore.config import Settings


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = (
        re.escape(name)
        + (re.escape("{" + labels + "}") if labels else r"(?:\{[^}]*\})?")
        + r" (\S+)"
    )
    match = re.search("^" + pattern + "$", text, re.MULTILINE)
    assert match, f"{name}{{{labels}}} not in metrics"
    return float(match.group(1))


def test_health_is_up_even_without_a_model(empty_client: TestClient) -> None:
    assert empty_client.get("/health").json() == {"status": "ok", "detail": None}


def test_ready_is_503_until_a_model_is_loaded(empty_client: TestClient, static_manager) -> None:
    response = empty_client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    manager: ModelManager = empty_client.app.state.manager  # type: ignore[attr-defined]
    manager.serve(static_manager.served.bundle, "memory://late")
    assert empty_client.get("/ready").status_code == 200


def test_ready_with_model(client: TestClient) -> None:
    assert client.get("/ready").json() == {"status": "ready", "detail": "serving v-test"}


def test_model_describes_what_is_served(client: TestClient) -> None:
    body = client.get("/model").json()
    assert body["ready"] is True
    assert body["version"] == "v-test"
    assert body["model_name"] == "xgboost"
    assert body["metrics"]["test_rmse"] == 0.31
    assert body["source_uri"] == "memory://v-test"
    assert body["loaded_at"]
    assert body["reload_failures"] == 0


def test_model_without_model(empty_client: TestClient) -> None:
    body = empty_client.get("/model").json()
    assert body["ready"] is False
    assert body["version"] is None


def test_models_without_registry_is_503(client: TestClient) -> None:
    response = client.get("/models")
    assert response.status_code == 503
    assert "registry" in response.json()["detail"]


def test_metrics_count_requests_predictions_and_served_version(client: TestClient) -> None:
    client.post("/predict", json=EXAMPLE_MOVIE)
    client.post("/predict/batch", json={"movies": [EXAMPLE_MOVIE] * 3})
    client.post("/predict", json={"title": "no date"})
    client.get("/no/such/page")
    text = client.get("/metrics").text
    assert metric(text, "moviescore_predictions_total") == 4
    assert (
        metric(
            text, "moviescore_http_requests_total", 'method="POST",route="/predict",status="200"'
        )
        == 1
    )
    assert (
        metric(
            text, "moviescore_http_requests_total", 'method="POST",route="/predict",status="422"'
        )
        == 1
    )
    assert (
        metric(
            text, "moviescore_http_requests_total", 'method="GET",route="unmatched",status="404"'
        )
        == 1
    )
    assert metric(text, "moviescore_http_request_duration_seconds_count", 'route="/predict"') == 2
    assert metric(text, "moviescore_model_served", 'model_name="xgboost",version="v-test"') == 1
    assert metric(text, "moviescore_model_reloads_total", 'outcome="failure"') == 0
    # one /predict scored through the shared model call; the batch makes its own call
    assert metric(text, "moviescore_model_calls_total") == 1
    assert metric(text, "moviescore_model_call_rows_total") == 1
    assert "moviescore_registry_seconds_since_last_poll" in text


def test_body_too_big_is_413_not_500(settings: Settings, static_manager: ModelManager) -> None:
    app = create_app(settings, manager=static_manager, max_body_bytes=10_000)
    with TestClient(app) as client:
        big = {"movies": [EXAMPLE_MOVIE] * 100}  # ~60 kB
        assert client.post("/predict/batch", json=big).status_code == 413

        def chunks():  # no Content-Length: the limit must hold while streaming too
            for _ in range(20):
                yield b" " * 1000

        streamed = client.post(
            "/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.post("/predict", json=EXAMPLE_MOVIE).status_code == 200
        text = client.get("/metrics").text
        assert (
            metric(
                text,
                "moviescore_http_requests_total",
                'method="POST",route="unmatched",status="413"',
            )
            >= 1
        )


def test_openapi_documents_the_form(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    movie = schema["components"]["schemas"]["MovieIn"]
    assert movie["examples"][0]["title"] == EXAMPLE_MOVIE["title"]
    assert movie["properties"]["runtime"]["anyOf"][0]["maximum"] == 1000
    assert client.get("/docs").status_code == 200
