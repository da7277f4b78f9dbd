"""The Streamlit UI: its helper functions, and the script under AppTest against a live API."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from moviescore.config import Settings
from tests.helpers import live
from tests.helpers.processes import free_port, running

SCRIPT = live.REPO / "streamlit_app.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("streamlit_app", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ui = _load()

OVERVIEW = {
    "champion": "v2",
    "served_version": "v2",
    "versions": [
        {
            "version": "v2",
            "model_name": "lightgbm",
            "created_at": "2026-01-02",
            "champion": True,
            "metrics": {"test_rmse": 0.7, "val_rmse": 0.72},
            "wandb_url": "https://wandb.ai/team/tmdb/runs/abc",
        },
        {
            "version": "v1",
            "model_name": "xgboost",
            "champion": False,
            "metrics": {"test_rmse": 0.8},
        },
    ],
    "history": [
        {
            "version": "v2",
            "model_name": "lightgbm",
            "action": "promote",
            "promoted_at": "2026-01-02T00:00:00",
            "metrics": {"test_rmse": 0.7},
            "previous_version": "v1",
            "decision": {
                "run_id": "r2",
                "reason": "beats champion by 0.1",
                "challenger": "lightgbm",
                "candidates": [
                    {"model_name": "lightgbm", "metrics": {"val_rmse": 0.72, "test_rmse": 0.7}},
                    {"model_name": "xgboost", "metrics": {"val_rmse": 0.75, "test_rmse": 0.71}},
                    {
                        "model_name": "random_forest",
                        "metrics": {"val_rmse": 0.8},
                        "wandb_url": None,
                    },
                ],
            },
        },
        {"version": "v1", "action": "promote", "decision": {"reason": "first", "candidates": []}},
    ],
}


# --- helpers ---------------------------------------------------------------------------------


def test_build_payload_matches_the_api_contract() -> None:
    payload = ui.build_payload(
        title="  Dune  ",
        overview="Sand.",
        genres=["Science Fiction"],
        language="en",
        runtime=155.0,
        budget_musd=165.0,
        release_date=date(2021, 10, 22),
    )
    assert payload == {
        "title": "Dune",
        "overview": "Sand.",
        "genres": ["Science Fiction"],
        "original_language": "en",
        "runtime": 155.0,
        "budget": 165_000_000.0,
        "release_date": "2021-10-22",
    }
    from app.schemas import MovieIn  # the API accepts exactly this body

    MovieIn.model_validate(payload)
    unknown = ui.build_payload(
        title="X", overview="", genres=[], language="fr", runtime=0.0, budget_musd=0.0,
        release_date=date(2030, 1, 1),
    )  # fmt: skip
    assert unknown["runtime"] is None and unknown["budget"] is None


def test_describe_error_names_the_fields() -> None:
    body = {"detail": [{"loc": ["body", "runtime"], "msg": "Input should be <= 1000"}]}
    response = httpx.Response(422, json=body)
    assert ui.describe_error(response) == "runtime: Input should be <= 1000"
    assert ui.describe_error(httpx.Response(503, json={"detail": "no model"})) == "no model"
    assert "502" in ui.describe_error(httpx.Response(502, text="<html>bad gateway</html>"))


def test_tables_for_the_models_page() -> None:
    versions = ui.versions_table(OVERVIEW)
    assert list(versions["version"]) == ["v2", "v1"]
    assert list(versions["champion"]) == [True, False]
    assert list(versions["test_rmse"]) == [0.7, 0.8]
    assert versions["W&B"].tolist()[0] == "https://wandb.ai/team/tmdb/runs/abc"
    decision = ui.latest_decision(OVERVIEW)
    assert decision is not None and decision["run_id"] == "r2"
    candidates = ui.candidates_table(decision)
    assert list(candidates["model"]) == ["lightgbm", "xgboost", "random_forest"]
    assert list(candidates["challenger"]) == [True, False, False]
    history = ui.history_table(OVERVIEW)
    assert list(history["version"]) == ["v2", "v1"]
    assert history["reason"].iloc[0] == "beats champion by 0.1"
    empty: dict[str, list[Any]] = {"versions": [], "history": []}
    assert ui.versions_table(empty).empty and ui.latest_decision(empty) is None


def test_what_each_version_learned_from_and_the_champion_recipe() -> None:
    data = {"ds": "2026-11-20", "label_scale": "imdb_rating", "sources": {"omdb_sample": 897},
            "train": 627, "val": 135, "test": 135, "fingerprint": "f00d",
            "release_dates": {"test": ["2013-01-01", "2014-12-31"]}}  # fmt: skip
    overview = {"versions": [{"version": "v9", "demo": True, "champion": True, "data": data}]}
    row = ui.data_table(overview).iloc[0]
    assert bool(row["demo"]) and row["label scale"] == "imdb_rating"
    assert row["cutoff"] == "2026-11-20" and row["sources"] == "omdb_sample 897"
    assert row["test"] == "135 (2013-01-01 … 2014-12-31)"
    decision = {"candidates": [{"model_name": "xgboost", "metrics": {"test_rmse": 0.75}}],
                "champion_recipe": {"model_name": "lightgbm", "metrics": {"test_rmse": 0.76}},
                "challenger": "xgboost", "run_id": "run-1"}  # fmt: skip
    table = ui.candidates_table(decision)
    assert list(table["model"]) == ["xgboost", "lightgbm (champion's recipe)"]
    attempts = {"attempts": {"run-1": [{"action": "promote"}, {"action": None}]}}
    assert ui.attempts_table(attempts, "run-1")["action"].tolist()[0] == "promote"
    assert len(ui.attempts_table(attempts, "run-1")) == 2


def test_latest_run_wins_even_when_it_did_not_promote() -> None:
    kept = {"run_id": "r3", "promoted": False, "candidates": [{"model_name": "xgboost"}]}
    decision = ui.latest_decision({**OVERVIEW, "runs": [kept]})
    assert decision is not None and decision["run_id"] == "r3"


def test_wandb_links_only_for_online_runs() -> None:
    assert (
        ui.wandb_url({"wandb_url": "https://wandb.ai/x/y/runs/z"}) == "https://wandb.ai/x/y/runs/z"
    )
    assert ui.wandb_url({"wandb_run_id": "offline-abc"}) is None
    assert ui.wandb_url({"wandb_url": "file:///tmp/wandb/offline-run"}) is None


def test_api_down_is_an_api_error() -> None:
    with pytest.raises(ui.ApiError, match="not reachable"):
        ui.call_api("GET", "/model", base_url=f"http://127.0.0.1:{free_port()}")


# --- the script under AppTest --------------------------------------------------------------


def fill_form(at: AppTest) -> AppTest:
    at.text_input(key="title").input("The Last Orbit")
    at.text_area(key="overview").input("A brilliant, moving story of an astronaut's last mission.")
    at.multiselect(key="genres").set_value(["Science Fiction", "Drama"])
    at.number_input(key="runtime").set_value(128)
    at.date_input(key="release").set_value(date(2027, 5, 14))
    return at


@pytest.fixture
def live_api(
    s3_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """uvicorn serving a real champion from SeaweedFS on a free loopback port: (url, version)."""
    from moviescore.registry.store import Registry

    version = live.promote(Registry.from_settings(s3_settings))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(live.api_command(port), f"{url}/ready", tmp_path / "api.log"):
        monkeypatch.setenv("API_URL", url)
        yield url, version


@pytest.mark.integration
def test_form_submit_shows_rating_sentiment_and_model(live_api: tuple[str, str]) -> None:
    url, version = live_api
    at = AppTest.from_file(str(SCRIPT), default_timeout=30).run()
    assert not at.exception
    fill_form(at).button[0].click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    rating = at.metric[0]
    assert rating.label == "Predicted rating"
    value = float(rating.value.split("/")[0])
    expected = httpx.post(f"{url}/predict", json=ui.build_payload(
        title="The Last Orbit",
        overview="A brilliant, moving story of an astronaut's last mission.",
        genres=["Science Fiction", "Drama"], language="en", runtime=128.0, budget_musd=20.0,
        release_date=date(2027, 5, 14),
    )).json()  # fmt: skip
    assert value == pytest.approx(expected["predicted_rating"], abs=0.01)
    assert any("polarity +" in m.value for m in at.markdown)
    assert any(version in c.value for c in at.caption)


@pytest.mark.integration
def test_models_page_shows_registry(live_api: tuple[str, str]) -> None:
    _, version = live_api
    at = AppTest.from_file(str(SCRIPT), default_timeout=30).run()
    at.sidebar.radio(key="page").set_value("Models").run()
    assert not at.exception and not at.error
    assert any(version in m.value for m in at.markdown)
    assert at.dataframe[0].value["version"].tolist() == [version]
    assert at.dataframe[1].value["model"].tolist() == ["xgboost", "lightgbm"]


def test_api_down_shows_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(str(SCRIPT), default_timeout=30).run()
    fill_form(at).button[0].click().run()
    assert not at.exception
    assert at.error and "not reachable" in at.error[0].value
    assert not at.metric
    at.sidebar.radio(key="page").set_value("Models").run()
    assert at.error and "not reachable" in at.error[0].value


def test_empty_title_is_refused_before_calling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(str(SCRIPT), default_timeout=30).run()
    at.button[0].click().run()
    assert at.warning and "title" in at.warning[0].value
    assert not at.error
