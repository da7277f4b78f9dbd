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
