"""The Streamlit script under AppTest: against a live API (uvicorn serving real champions from
SeaweedFS), and against no API at all. The helpers it draws are tested in test_studio.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from moviescore.config import Settings
from moviescore.studio.answer import interval_sentence
from moviescore.studio.movie_form import build_payload
from tests.helpers import live
from tests.helpers.processes import free_port, running

SCRIPT = str(live.REPO / "streamlit_app.py")
OVERVIEW = "A brilliant, moving story of an astronaut's last mission."


def fill_form(at: AppTest, suggested: bool = True) -> AppTest:
    """Every field of the form; keywords and companies picked from the model's names plus a
    new one typed (or, without `suggested`, typed in the fallback text fields)."""
    at.text_input(key="title").input("The Last Orbit")
    at.text_input(key="tagline").input("Some journeys never end.")
    at.text_area(key="overview").input(OVERVIEW)
    at.multiselect(key="genres").set_value(["Science Fiction", "Drama"])
    at.selectbox(key="lang").set_value("en")
    at.number_input(key="runtime").set_value(128)
    at.number_input(key="budget").set_value(95.0)
    at.date_input(key="release").set_value(date(2027, 5, 14))
    if suggested:
        at.multiselect(key="keywords").set_value(["astronaut", "space mission"])
        at.multiselect(key="companies").set_value(["Orbit Pictures", "Lunar Films"])
    else:
        at.text_input(key="keywords_text").input("astronaut, space mission")
        at.text_input(key="companies_text").input("Orbit Pictures, Lunar Films")
    at.multiselect(key="countries").set_value(["US", "GB"])
    at.multiselect(key="spoken").set_value(["en", "fr"])
    at.text_input(key="homepage").input("https://example.org/orbit")
    return at


FILLED = build_payload(
    title="The Last Orbit", overview=OVERVIEW, genres=["Science Fiction", "Drama"],
    language="en", runtime=128.0, budget_musd=95.0, release_date=date(2027, 5, 14),
    tagline="Some journeys never end.", keywords=["astronaut", "space mission"],
    companies=["Orbit Pictures", "Lunar Films"], countries=["US", "GB"],
    spoken_languages=["en", "fr"], homepage="https://example.org/orbit",
)  # fmt: skip


def charts(at: AppTest) -> list[Any]:
    return list(at.get("vega_lite_chart"))


def start() -> AppTest:
    at = AppTest.from_file(SCRIPT, default_timeout=60).run()
    assert not at.exception
    return at


@pytest.fixture
def live_api(
    s3_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[str]]]:
    """uvicorn on a free loopback port serving the newer of two champions: (url, versions)."""
    from moviescore.registry.store import Registry

    registry = Registry.from_settings(s3_settings)
    # films with keywords and companies: the form picks from the served model's names
    versions = [live.promote(registry, seed=s, named=True) for s in (0, 1)]
    live.write_kept_run(registry, "run-9")  # a newer run that kept the champion
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(live.api_command(port), f"{url}/ready", tmp_path / "api.log"):
        monkeypatch.setenv("API_URL", url)
        yield url, versions


@pytest.mark.integration
def test_predict_page_with_a_live_api(live_api: tuple[str, list[str]]) -> None:
    url, versions = live_api
    at = start()
    assert any("API up and ready" in m.value for m in at.sidebar.markdown)
    fill_form(at).button[0].click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    expected = httpx.post(f"{url}/predict", params={"explain": "true"}, json=FILLED).json()
    assert float(at.metric[0].value.split("/")[0]) == pytest.approx(
        expected["predicted_rating"], abs=0.01
    )
    shown = [m.value for m in at.markdown]
    # The interval, warnings and contributions show when this API gives them (issue 13's API).
    sentence = interval_sentence(expected)
    assert (sentence or "This API version gives no interval with its ratings.") in shown
    assert [w.value for w in at.warning] == expected.get("warnings", [])
    if "explanation" in expected:
        assert len(charts(at)) == 2  # the waterfall and the what-if
    else:
        assert any("does not explain" in i.value for i in at.info)
    assert any("polarity +" in m for m in shown)
    assert any(versions[-1] in c.value for c in at.caption)
    inputs = at.dataframe[-1].value  # the inputs the answer was computed from
    assert dict(zip(inputs["field"], inputs["value"], strict=True))["keywords"] == (
        "astronaut, space mission"
    )
    # What-if: the what-if chart draws one /predict/batch answer; switching what varies too.
    assert charts(at)
    at.radio(key="what_if").set_value("runtime").run()
    assert not at.exception and not at.error
    # Two scenarios side by side: the first as filled, the second with a bigger budget and a
    # shorter runtime (the synthetic ratings depend on runtime, not on budget).
    at.button(key="keep").click().run()
    at.number_input(key="budget").set_value(150.0)
    at.number_input(key="runtime").set_value(90)
    at.button[0].click().run()
    at.button(key="keep").click().run()
    assert not at.exception and not at.error
    kept = [m for m in at.metric if m.label.startswith(("1. ", "2. "))]
    assert [m.label for m in kept] == ["1. The Last Orbit", "2. The Last Orbit"]
    side_by_side = at.dataframe[-1].value
    assert side_by_side.index[0] == "rating"  # what differs comes first
    assert list(side_by_side.loc["budget"]) == ["$95.0M", "$150.0M"]
    at.button(key="clear_scenarios").click().run()
    assert not [m for m in at.metric if m.label.startswith("1. ")]


@pytest.mark.integration
def test_keywords_and_companies_are_picked_from_the_served_models_names(
    live_api: tuple[str, list[str]],
) -> None:
    url, versions = live_api
    at = start()
    for key, field in (("keywords", "keywords"), ("companies", "production_companies")):
        known = httpx.get(f"{url}/model/vocabulary", params={"field": field, "limit": 200}).json()
        assert known["model_version"] == versions[-1]
        assert at.multiselect(key=key).options == [i["name"] for i in known["items"]]
    assert at.multiselect(key="keywords").options[0] == "biography"  # most films of seed 1
    # One suggested name, one typed that the model never saw: both are sent.
    fill_form(at).multiselect(key="keywords").set_value(["astronaut", "moon base"])
    at.button[0].click().run()
    assert not at.exception and not at.error
    inputs = at.dataframe[-1].value
    shown = dict(zip(inputs["field"], inputs["value"], strict=True))
    assert shown["keywords"] == "astronaut, moon base"
    assert shown["production companies"] == "Orbit Pictures, Lunar Films"
    assert any("1 of 2 keywords is unknown" in w.value for w in at.warning)


@pytest.mark.integration
def test_a_refused_field_is_named_under_it(live_api: tuple[str, list[str]]) -> None:
    at = start()
    fill_form(at)
    at.multiselect(key="keywords").set_value(["astronaut", "x" * 201])  # names are ≤ 200 chars
    at.button[0].click().run()
    assert not at.exception
    # Under the keywords field (the form comes first), then above the answer.
    inline, summary = (e.value for e in at.error)
    # the API's 422 names the field and why, never echoing the input back (issue 15)
    assert inline == "String should have at most 200 characters"
    assert summary.startswith("Some fields are not valid: keywords:")
    assert not at.metric


@pytest.mark.integration
def test_models_page_run_picker_and_diff(live_api: tuple[str, list[str]]) -> None:
    _, versions = live_api
    at = start()
    at.sidebar.radio(key="page").set_value("Models").run()
    assert not at.exception and not at.error
    assert any(f"Champion: **{versions[1]}**" in m.value for m in at.markdown)
    runs = at.table[0].value
    candidates, published = at.dataframe[0].value, at.dataframe[1].value
    # Every run, promoted or not, newest first; each with its champion re-score and baseline.
    assert runs["run"].tolist() == ["run-9", "run-1", "run-0"]
    assert runs["promoted"].tolist() == ["no", "yes", "yes"]
    assert runs["reason"].tolist()[2] == "test promotion of seed 0"
    assert runs.iloc[0][["champion re-scored", "baseline test_rmse"]].tolist() == [0.348, 0.912]
    assert candidates["model"].tolist() == ["xgboost", "lightgbm", "random_forest"]
    assert candidates["W&B offline run"].tolist()[0].startswith("wandb sync ")
    assert candidates["W&B offline run"].tolist()[0].endswith("/offline-run-*-k3x9offl")
    assert published["version"].tolist() == versions[::-1]
    assert charts(at)  # test RMSE per run, one panel each
    at.selectbox(key="run").set_value("run-0").run()
    assert any("test promotion of seed 0" in m.value for m in at.markdown)
    assert at.dataframe[0].value["model"].tolist() == ["xgboost", "lightgbm"]
    # The diff of the two versions: their ids differ, their model type does not.
    assert at.selectbox(key="diff_a").value == versions[1]
    learned = at.dataframe[2].value  # what each version learned from
    assert learned["version"].tolist() == versions[::-1]
    diff = at.dataframe[3].value
    assert "version" in diff["field"].tolist() and "model_name" not in diff["field"].tolist()
    at.toggle(key="diff_only").set_value(False).run()
    everything = at.dataframe[3].value
    assert {"model_name", "n_estimators", "test_rmse"} <= set(everything["field"])


def test_api_down_is_said_in_plain_words(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("API_URL", url)
    at = start()
    assert any(
        f"The prediction service at {url} is not reachable" in m.value for m in at.sidebar.markdown
    )
    assert [t.key for t in at.text_input if t.key.endswith("_text")] == [
        "keywords_text",
        "companies_text",
    ]  # no suggestions to pick from: typed names instead, and the form says why
    assert any("No suggestions" in c.value and "commas" in c.value for c in at.caption)
    fill_form(at, suggested=False).button[0].click().run()
    assert not at.exception
    assert at.error[0].value.startswith(f"The prediction service at {url} is not reachable")
    assert "Errno" not in at.error[0].value
    assert not at.metric
    at.sidebar.radio(key="page").set_value("Models").run()
    assert at.error and "not reachable" in at.error[0].value


def test_empty_title_is_refused_before_calling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    at = start()
    at.button[0].click().run()
    assert at.warning and "title" in at.warning[0].value
    assert not at.error
