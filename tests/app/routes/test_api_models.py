"""GET /models against a real registry."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.model_manager import ModelManager
from moviescore.config import Settings

pytestmark = pytest.mark.integration


def test_models_lists_versions_champion_and_history(
    s3_settings: Settings, registry: Any, promote: Any
) -> None:
    v1 = promote(registry, seed=0)
    v2 = promote(registry, seed=1, model_name="lightgbm")
    manager = ModelManager(registry)
    manager.poll_once()
    with TestClient(create_app(s3_settings, manager=manager)) as client:
        body = client.get("/models").json()
        newest = client.get("/models", params={"limit": 1}).json()
        refused = client.get("/models", params={"limit": 0})
    assert [v["version"] for v in newest["versions"]] == [v2]
    assert [h["version"] for h in newest["history"]] == [v2]
    assert refused.status_code == 422 and "limit" in refused.text
    assert body["champion"] == v2
    assert body["served_version"] == v2
    assert [v["version"] for v in body["versions"]] == [v2, v1]
    assert [v["champion"] for v in body["versions"]] == [True, False]
    assert body["versions"][0]["metrics"]["test_rmse"] == 0.31
    assert [h["version"] for h in body["history"]] == [v2, v1]
    assert body["history"][0]["decision"]["candidates"][1]["model_name"] == "lightgbm"
    assert body["runs"] == []


def test_models_shows_runs_that_did_not_promote(
    s3_settings: Settings, registry: Any, promote: Any
) -> None:
    promote(registry, seed=0)
    registry.write_decision("run-2026-11-23", {"run_id": "run-2026-11-23", "promoted": False})
    manager = ModelManager(registry)
    manager.poll_once()
    with TestClient(create_app(s3_settings, manager=manager)) as client:
        runs = client.get("/models").json()["runs"]
    assert [r["run_id"] for r in runs] == ["run-2026-11-23"]
    assert runs[0]["promoted"] is False


def test_default_app_reads_the_registry_from_settings(
    s3_settings: Settings, registry: Any, promote: Any
) -> None:
    """create_app() with no manager builds one from settings and loads the champion at start."""
    version = promote(registry)
    with TestClient(create_app(s3_settings)) as client:
        manager: ModelManager = client.app.state.manager  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not manager.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/ready").status_code == 200
        assert client.get("/model").json()["version"] == version


def test_model_and_models_say_what_a_version_learned_from_and_every_attempt(
    s3_settings: Settings, registry: Any
) -> None:
    from moviescore.records import CandidateScore, DatasetSummary, Metrics, build_manifest
    from tests.helpers.live import fit_pipeline

    data = DatasetSummary(
        ds="2026-11-20", dataset="d", rows=900, labelled=897, train=627, val=135, test=135,
        fingerprint="f00d", label_scale="imdb_rating", demo=True,
        sources={"omdb_sample": 897}, release_dates={"test": ["2013-01-01", "2014-12-31"]},
    )  # fmt: skip
    pipeline = fit_pipeline()
    manifest = build_manifest(
        CandidateScore(model_name="xgboost", metrics=Metrics(test_rmse=0.9)),
        pipeline,
        params={},
        run_id="run-2026-11-20",
        ds="2026-11-20",
        data=data,
    )
    version = registry.publish(pipeline, manifest)
    registry.set_champion(version, {"run_id": "run-2026-11-20", "reason": "first"})
    for reason in ("first try", "re-run"):
        registry.write_decision("run-2026-11-20", {"run_id": "run-2026-11-20", "reason": reason})
    manager = ModelManager(registry)
    manager.poll_once()
    with TestClient(create_app(s3_settings, manager=manager)) as client:
        served = client.get("/model").json()
        overview = client.get("/models").json()
    assert served["demo"] is True and served["sequence"] == 1
    assert served["data"]["label_scale"] == "imdb_rating"
    assert served["data"]["sources"] == {"omdb_sample": 897} and served["data"]["test"] == 135
    assert overview["versions"][0]["demo"] is True
    assert [a["reason"] for a in overview["attempts"]["run-2026-11-20"]] == ["first try", "re-run"]
