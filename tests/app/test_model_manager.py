"""ModelManager against a real SeaweedFS: load, hot swap, corrupt artifacts, S3 outages."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import model_manager as mm
from app.main import create_app
from app.model_manager import ModelManager
from app.schemas import EXAMPLE_MOVIE
from moviescore.config import Settings

pytestmark = pytest.mark.integration


def s3_calls(registry: Any) -> list[dict[str, Any]]:
    """Record every GetObject the registry's real boto3 client sends (key, If-None-Match)."""
    calls: list[dict[str, Any]] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        calls.append({"key": params["Key"], "if_none_match": params.get("IfNoneMatch")})

    registry.client.meta.events.register("before-parameter-build.s3.GetObject", before)
    return calls


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_no_champion_yet(registry: Any) -> None:
    manager = ModelManager(registry)
    assert manager.poll_once() == "no_champion"
    assert not manager.ready


def test_new_champion_is_served_after_one_poll(registry: Any, promote: Any) -> None:
    manager = ModelManager(registry)
    v1 = promote(registry, seed=0)
    assert manager.poll_once() == "loaded"
    assert manager.served is not None and manager.served.version == v1
    assert manager.served.source_uri == f"s3://{registry.bucket}/models/{v1}/"
    first = manager.served
    v2 = promote(registry, seed=1, model_name="lightgbm")
    assert manager.poll_once() == "loaded"
    assert manager.served.version == v2
    assert manager.served.model_name == "lightgbm"
    assert manager.served.pointer is not None and manager.served.pointer.previous_version == v1
    assert first.version == v1  # the old object is untouched: in-flight requests finish on it
    assert manager.reload_successes == 2


def test_unchanged_pointer_costs_one_conditional_get(registry: Any, promote: Any) -> None:
    promote(registry)
    manager = ModelManager(registry)
    manager.poll_once()
    calls = s3_calls(registry)
    assert manager.poll_once() == "unchanged"
    assert manager.poll_once() == "unchanged"
    assert [c["key"] for c in calls] == ["models/champion.json"] * 2
    assert all(c["if_none_match"] for c in calls)  # 304s: nothing downloaded


def corrupt(registry: Any, version: str) -> None:
    """Flip the model bytes in place (same size, so only the sha256 can tell)."""
    key = f"models/{version}/model.joblib"
    blob = registry.client.get_object(Bucket=registry.bucket, Key=key)["Body"].read()
    registry.client.put_object(Bucket=registry.bucket, Key=key, Body=bytes(b ^ 0xFF for b in blob))


def test_corrupt_artifact_keeps_the_old_model_and_backs_off(
    registry: Any, promote: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mm, "RETRY_BASE_SECONDS", 0.5)
    manager = ModelManager(registry)
    v1 = promote(registry, seed=0)
    manager.poll_once()
    v2 = promote(registry, seed=1)
    corrupt(registry, v2)
    assert manager.poll_once() == "failed"
    assert manager.served is not None and manager.served.version == v1
    assert manager.reload_failures == 1
    assert manager.last_error is not None and "sha256 mismatch" in manager.last_error
    # Within the backoff: the bad version is not downloaded again, the pointer GET is a 304.
    calls = s3_calls(registry)
    assert manager.poll_once() == "backoff"
    assert [c["key"] for c in calls] == ["models/champion.json"]
    assert calls[0]["if_none_match"]
    # After it: one more try (still corrupt), then a longer backoff.
    time.sleep(0.6)
    assert manager.poll_once() == "failed"
    assert manager.reload_failures == 2
    assert manager.poll_once() == "backoff"
    # A new good version is taken at once, backoff or not.
    v3 = promote(registry, seed=2)
    assert manager.poll_once() == "loaded"
    assert manager.served.version == v3


def test_app_hot_swaps_under_load_without_failed_requests(
    s3_settings: Settings, registry: Any, promote: Any
) -> None:
    v1 = promote(registry, seed=0)
    manager = ModelManager(registry, poll_seconds=0.2)
    with TestClient(create_app(s3_settings, manager=manager)) as client:
        wait_for(lambda: client.get("/ready").status_code == 200)
        statuses: list[int] = []
        versions: set[str] = set()
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                response = client.post("/predict", json=EXAMPLE_MOVIE)
                statuses.append(response.status_code)
                versions.add(response.json().get("model_version", "?"))

        worker = threading.Thread(target=load)
        worker.start()
        try:
            v2 = promote(registry, seed=1)
            promoted = time.monotonic()
            wait_for(lambda: client.get("/model").json()["version"] == v2, timeout=5)
            swap_seconds = time.monotonic() - promoted
            time.sleep(0.2)
        finally:
            stop.set()
            worker.join(10)
        assert swap_seconds < 0.2 + 2  # one poll interval + 2 s
        assert statuses and set(statuses) == {200}
        assert versions == {v1, v2}
        body = client.get("/model").json()
        assert body["reload_successes"] == 2
        assert body["promoted_at"] and body["trained_at"] and body["last_poll_result"]
        assert body["evaluator"] == "onnxruntime"  # compiled and verified on the poll thread


def test_s3_down_keeps_serving(tmp_path: Path, promote: Any) -> None:
    """A dedicated SeaweedFS, stopped by PID while the API serves from it."""
    from moviescore.local_s3 import LocalS3Server, SeaweedPorts
    from moviescore.registry.store import Registry

    server = LocalS3Server(tmp_path / "s3", ports=SeaweedPorts.free(), bucket="outage").start()
    try:
        registry = Registry(server.client(attempts=1, connect_timeout=0.3), "outage")
        version = promote(registry)
        manager = ModelManager(registry, poll_seconds=0.1)
        settings = Settings(s3_endpoint_url=server.endpoint_url, s3_bucket="outage")
        with TestClient(create_app(settings, manager=manager)) as client:
            wait_for(lambda: client.get("/ready").status_code == 200)
            pid = server.pid
            assert pid is not None
            server.stop()
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
            failures = manager.poll_failures  # polls during shutdown may see other errors
            wait_for(lambda: manager.poll_failures >= failures + 2)
            assert client.get("/ready").status_code == 200
            response = client.post("/predict", json=EXAMPLE_MOVIE)
            assert response.status_code == 200
            assert response.json()["model_version"] == version
            body = client.get("/model").json()
            assert body["last_poll_result"] == "error"
            assert "unreachable" in body["last_error"]
            assert client.get("/models").status_code == 503
            metrics = client.get("/metrics").text
            assert "moviescore_registry_poll_failures_total" in metrics
    finally:
        server.stop()


def test_pointer_without_version_keeps_serving(registry: Any, promote: Any) -> None:
    v1 = promote(registry)
    manager = ModelManager(registry)
    manager.poll_once()
    registry.client.put_object(
        Bucket=registry.bucket, Key="models/champion.json", Body=b'{"decision": {}}'
    )
    assert manager.poll_once() == "bad_pointer"
    assert manager.served is not None and manager.served.version == v1
    assert manager.last_error is not None
    assert "champion.json is not a valid record: ChampionPointer: version" in manager.last_error
    registry.client.put_object(Bucket=registry.bucket, Key="models/champion.json", Body=b"{oops")
    assert manager.poll_once() == "bad_pointer"  # not JSON: the registry refuses it
    assert "not JSON" in manager.last_error
    assert manager.served.version == v1 and manager.poll_failures == 0  # S3 itself answered


def test_a_model_that_cannot_score_is_never_swapped_in(static_manager: ModelManager) -> None:
    """A bundle whose regressor expects other features than its feature step makes is refused
    at load time, so the old model keeps answering instead of every request failing."""
    import copy

    import numpy as np
    from xgboost import XGBRegressor

    from moviescore.registry.store import ModelBundle

    before = static_manager.served
    assert before is not None
    broken = copy.deepcopy(before.bundle.pipeline)
    broken.steps[-1] = ("model", XGBRegressor(n_estimators=2).fit(np.ones((4, 3)), np.ones(4)))
    with pytest.raises(ValueError, match=r"[Ff]eature shape mismatch"):
        static_manager.serve(ModelBundle("v-broken", {}, broken), "memory://v-broken")
    assert static_manager.served is before
