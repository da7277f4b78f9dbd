"""moviescore.studio: what the Streamlit UI sends, how it words failures, and what it shows."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from app.schemas import BatchIn, MovieIn
from moviescore.studio import charts
from moviescore.studio.answer import (
    comparables_frame,
    interval_sentence,
    scenarios_frame,
    warnings_of,
    waterfall_frame,
)
from moviescore.studio.client import (
    ApiError,
    api_status,
    call_api,
    describe_response,
    explains,
    field_errors,
    vocabulary,
)
from moviescore.studio.movie_form import build_payload as _build_payload
from moviescore.studio.movie_form import (
    countries,
    describe_inputs,
    languages,
    split_names,
    what_if_batch,
    what_if_frame,
)
from moviescore.studio.registry_view import (
    BASELINE,
    CHAMPION_RESCORE,
    candidates_table,
    diff_versions,
    history_table,
    latest_decision,
    rmse_by_run_frame,
    runs,
    runs_table,
    versions_table,
    wandb_sync_command,
    wandb_url,
)
from tests.helpers.processes import free_port


def payload(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        title="  Dune  ", overview="Sand.", genres=["Science Fiction"], language="en",
        runtime=155.0, budget_musd=165.0, release_date=date(2021, 10, 22),
    )  # fmt: skip
    return _build_payload(**(values | changes))


# --- the form ------------------------------------------------------------------------------


def test_payload_has_every_field_the_api_takes() -> None:
    body = payload(
        tagline=" Fear is the mind-killer. ", keywords="desert, spice,, desert ",
        companies="Legendary Pictures", countries=["US"], spoken_languages=["en", "fr"],
        homepage="https://dune.example",
    )  # fmt: skip
    assert body == {
        "title": "Dune",
        "overview": "Sand.",
        "tagline": "Fear is the mind-killer.",
        "genres": ["Science Fiction"],
        "original_language": "en",
        "runtime": 155.0,
        "budget": 165_000_000.0,
        "release_date": "2021-10-22",
        "keywords": ["desert", "spice"],
        "production_companies": ["Legendary Pictures"],
        "production_countries": ["US"],
        "spoken_languages": ["en", "fr"],
        "homepage": "https://dune.example",
    }
    assert set(body) == set(MovieIn.model_fields)  # nothing the API takes is left out
    MovieIn.model_validate(body)


def test_unknown_is_not_zero_and_no_keywords_is_not_unknown() -> None:
    body = payload(runtime=0.0, budget_musd=0.0)
    assert body["runtime"] is None and body["budget"] is None
    assert "keywords" not in body  # blank: unknown, left out
    assert payload(no_keywords=True)["keywords"] == []
    assert body["tagline"] is None and body["homepage"] is None


def test_split_names() -> None:
    assert split_names(" a, b,,c , a ") == ["a", "b", "c"]
    assert split_names("  ") == []
    assert split_names([" moon base", "a", "", "a"]) == ["moon base", "a"]  # the picker's list


def test_picked_names_are_sent_as_lists() -> None:
    body = payload(keywords=["astronaut", "moon base"], companies=["Orbit Pictures"])
    assert body["keywords"] == ["astronaut", "moon base"]
    assert body["production_companies"] == ["Orbit Pictures"]
    assert "keywords" not in payload(keywords=[])  # nothing picked: unknown, left out


def test_languages_and_countries_are_iso_codes_with_names() -> None:
    langs, lands = languages(), countries()
    assert len(langs) == 184 and langs["en"] == "English" and next(iter(langs)) == "en"
    assert all(len(code) == 2 and code.islower() for code in langs)
    assert lands["US"] == "United States" and lands["FR"] == "France"
    assert all(len(code) == 2 and code.isupper() for code in lands)


@pytest.mark.parametrize("dimension", ["budget", "runtime", "release date"])
def test_what_if_varies_only_one_field_in_one_batch(dimension: str) -> None:
    movie = payload(budget_musd=42.0, runtime=117.0, release_date=date(2024, 2, 29))
    values, batch = what_if_batch(movie, dimension)
    BatchIn.model_validate(batch)  # the API accepts it as one call
    field = {"budget": "budget", "runtime": "runtime", "release date": "release_date"}[dimension]
    seen = [m[field] for m in batch["movies"]]
    assert len(set(map(str, seen))) == len(values) > 5
    for m in batch["movies"]:
        assert {k: v for k, v in m.items() if k != field} == {
            k: v for k, v in movie.items() if k != field
        }
    assert movie[field] in seen  # the movie as described is one of the points
    assert values == sorted(values)


def test_what_if_release_dates_handle_29_february() -> None:
    values, _ = what_if_batch(payload(release_date=date(2024, 2, 29)), "release date")
    assert date(2023, 2, 28) in values and date(2024, 2, 29) in values


def test_what_if_refuses_an_unknown_dimension() -> None:
    with pytest.raises(ValueError, match="budget, runtime, release date"):
        what_if_batch(payload(), "title")


def test_what_if_frame_with_and_without_intervals() -> None:
    answer = {
        "predictions": [
            {"predicted_rating": 6.0, "interval": {"level": 0.8, "low": 5.0, "high": 7.0}},
            {"predicted_rating": 6.5},
        ]
    }
    frame = what_if_frame("runtime", [90, 100], answer)
    assert frame["rating"].tolist() == [6.0, 6.5]
    assert frame["low"].tolist()[0] == 5.0 and frame["low"].isna().tolist() == [False, True]
    dated = what_if_frame(
        "release date", [date(2020, 1, 1)], {"predictions": [answer["predictions"][1]]}
    )
    assert str(dated["release date"].dtype).startswith("datetime64")


def test_inputs_are_shown_as_read() -> None:
    shown = dict(describe_inputs(payload(runtime=0.0)).values.tolist())
    assert shown["budget"] == "$165.0M" and shown["runtime"] == "unknown"
    assert shown["keywords"] == "unknown (left out)" and shown["production companies"] == "none"


# --- talking to the API --------------------------------------------------------------------


PREDICT_422 = [
    {"loc": ["body", "runtime"], "msg": "Input should be less than or equal to 1000"},
    {"loc": ["body", "genres", 1], "msg": "Input should be a TMDB genre", "input": "Sci-Fi"},
]


def test_422_errors_map_to_form_fields() -> None:
    assert field_errors(PREDICT_422) == {
        "runtime": ["Input should be less than or equal to 1000"],
        "genres": ["'Sci-Fi': Input should be a TMDB genre"],
    }
    batch = [{"loc": ["body", "movies", 3, "release_date"], "msg": "bad date"}]
    assert field_errors(batch) == {"release_date": ["bad date"]}
    assert field_errors([{"loc": ["query", "explain"], "msg": "not a bool"}]) == {
        "explain": ["not a bool"]
    }
    assert field_errors("not a list") == {}


@pytest.mark.parametrize(
    ("response", "sentence"),
    [
        (httpx.Response(422, json={"detail": PREDICT_422}), "Some fields are not valid: runtime:"),
        (httpx.Response(413, json={"detail": "too big"}), "The request is too large"),
        (
            httpx.Response(503, json={"detail": "no model loaded yet"}),
            "The prediction service cannot answer yet: no model loaded yet.",
        ),
        (httpx.Response(502, text="<html>bad gateway</html>"), "failed (HTTP 502)."),
        (httpx.Response(404, json={"detail": "Not Found"}), "refused the request (HTTP 404)"),
    ],
)
def test_error_answers_in_plain_words(response: httpx.Response, sentence: str) -> None:
    assert sentence in describe_response(response)


def test_a_down_api_is_said_in_plain_words() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiError) as caught:
        call_api("GET", "/model", base_url=url)
    assert str(caught.value) == (
        f"The prediction service at {url} is not reachable: "
        "is it running, and is API_URL set to its address?"
    )
    status = api_status(url)
    assert not status.up and not status.ready and "not reachable" in status.detail
    assert status.version is None
    with pytest.raises(ApiError, match="not reachable"):
        vocabulary(url, "keywords")
    with pytest.raises(ApiError, match="not a valid http"):
        call_api("GET", "/model", base_url="localhost:8000")


def test_explain_is_read_from_the_openapi_schema() -> None:
    param = {"name": "explain", "in": "query", "schema": {"type": "boolean"}}
    assert explains({"paths": {"/predict": {"post": {"parameters": [param]}}}})
    assert not explains({"paths": {"/predict": {"post": {}}}})
    assert not explains({})


# --- the answer ----------------------------------------------------------------------------

ANSWER = {
    "predicted_rating": 6.1,
    "model_version": "v2",
    "model_name": "lightgbm",
    "interval": {"level": 0.8, "low": 5.42, "high": 6.83},
    "warnings": ["The budget is beyond what the model learned from."],
    "explanation": {
        "base_rating": 6.0,
        "contributions": [
            {"group": "genres", "value": 0.3, "detail": "Drama"},
            {"group": "budget", "value": -0.5, "detail": "$400M"},
            {"group": "runtime", "value": 0.3, "detail": "128 min"},
        ],
    },
    "comparables": [
        {"title": "Gravity", "release_year": 2013, "budget": 1e8, "rating": 7.2},
    ],
}
OLD_ANSWER = {"predicted_rating": 6.1, "model_version": "v1", "model_name": "xgboost"}


def test_interval_and_warnings() -> None:
    assert interval_sentence(ANSWER) is not None
    assert interval_sentence(ANSWER).startswith("80% interval: 5.42 – 6.83")  # type: ignore[union-attr]
    assert warnings_of(ANSWER) == ["The budget is beyond what the model learned from."]
    assert interval_sentence(OLD_ANSWER) is None and warnings_of(OLD_ANSWER) == []


def test_waterfall_adds_up_to_the_raw_output() -> None:
    frame = waterfall_frame(ANSWER)
    assert frame["label"].tolist() == ["average film", "budget", "genres", "runtime", "this film"]
    assert frame["kind"].tolist() == ["total", "lowers", "raises", "raises", "total"]
    assert frame["end"].iloc[-1] == pytest.approx(6.0 + 0.3 - 0.5 + 0.3)
    assert (frame["start"].iloc[1:-1].to_numpy() == frame["end"].iloc[:-2].to_numpy()).all()
    assert waterfall_frame(OLD_ANSWER).empty
    spec = charts.waterfall(frame).to_dict()  # a valid Vega-Lite spec
    domain = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    assert domain[0] < 5.8 and 6.1 < domain[1] < 6.5  # the levels, not 0-10: small pushes show


def test_comparables_and_scenarios() -> None:
    assert comparables_frame(ANSWER).to_dict("records") == [
        {"title": "Gravity", "year": 2013, "budget": "$100.0M", "real rating": 7.2}
    ]
    assert comparables_frame(OLD_ANSWER).empty
    a = {"name": "cheap", "payload": payload(budget_musd=5.0), "answer": ANSWER}
    b = {"name": "dear", "payload": payload(budget_musd=300.0), "answer": OLD_ANSWER}
    frame = scenarios_frame([a, b])
    assert list(frame.columns) == ["1. cheap", "2. dear"]
    assert frame.index[:3].tolist() == ["interval", "warnings", "budget"]  # what differs first
    assert frame.loc["budget"].tolist() == ["$5.0M", "$300.0M"]
    assert frame.loc["interval"].tolist() == ["5.42 – 6.83", "—"]
    assert scenarios_frame([]).empty


# --- the Models page -----------------------------------------------------------------------

DECISION_R2 = {
    "run_id": "r2",
    "ds": "2026-01-02",
    "promoted": True,
    "reason": "beats champion by 0.1",
    "challenger": "lightgbm",
    "previous_champion_test_rmse": 0.8,
    "baseline": {"test_rmse": 1.1},
    "candidates": [
        {"model_name": "lightgbm", "metrics": {"val_rmse": 0.72, "test_rmse": 0.7}},
        {"model_name": "xgboost", "metrics": {"val_rmse": 0.75, "test_rmse": 0.71}},
        {"model_name": "random_forest", "metrics": {"val_rmse": 0.8}, "wandb_run_id": "abc"},
    ],
}
OVERVIEW: dict[str, Any] = {
    "champion": "v2",
    "served_version": "v2",
    "versions": [
        {
            "version": "v2",
            "model_name": "lightgbm",
            "created_at": "2026-01-02",
            "champion": True,
            "metrics": {"test_rmse": 0.7, "val_rmse": 0.72},
            "params": {"n_estimators": 400},
            "wandb_url": "https://wandb.ai/team/tmdb/runs/abc",
            "run_id": "r2",
            "data_fingerprint": "f2",
            "files": {"model.joblib": {"sha256": "ab" * 32, "size": 10}},
        },
        {
            "version": "v1",
            "model_name": "xgboost",
            "champion": False,
            "metrics": {"test_rmse": 0.8},
            "params": {"n_estimators": 400, "max_depth": 6},
            "wandb_run_id": "off1",
            "run_id": "r1",
            "data_fingerprint": "f1",
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
            "decision": DECISION_R2,
        },
        {"version": "v1", "action": "promote", "decision": {"reason": "first", "candidates": []}},
    ],
    "runs": [
        {
            "run_id": "r3",
            "ds": "2026-01-03",
            "promoted": False,
            "reason": "kept",
            "challenger": "xgboost",
            "previous_champion_test_rmse": 0.69,
            "candidates": [{"model_name": "xgboost", "metrics": {"test_rmse": 0.75}}],
        },
        DECISION_R2,
    ],
}


def test_every_run_is_listed_once_newest_first() -> None:
    found = runs(OVERVIEW)
    assert [d["run_id"] for d in found] == ["r3", "r2"]  # r2 is in runs and in history
    assert latest_decision(OVERVIEW) == found[0]
    older = runs({"history": OVERVIEW["history"]})  # an API without `runs`
    assert [d["run_id"] for d in older] == ["r2"]
    assert runs({"versions": [], "history": []}) == [] and latest_decision({}) is None
    table = runs_table(found)
    assert table["promoted"].tolist() == ["no", "yes"]
    assert table["challenger test_rmse"].tolist() == [0.75, 0.7]
    assert table["champion re-scored"].tolist() == [0.69, 0.8]


def test_test_rmse_stays_with_its_own_run() -> None:
    frame = rmse_by_run_frame(runs(OVERVIEW))
    r2 = frame[frame["run"] == "r2"].set_index("scored")["test_rmse"].to_dict()
    assert r2 == {"lightgbm": 0.7, "xgboost": 0.71, CHAMPION_RESCORE: 0.8, BASELINE: 1.1}
    r3 = frame[frame["run"] == "r3"]["scored"].tolist()
    assert r3 == ["xgboost", CHAMPION_RESCORE]  # no baseline recorded: no bar
    spec = charts.rmse_by_run(frame).to_dict()
    assert spec["facet"]["field"] == "run"  # one panel per run, never one shared axis


def test_tables_for_the_models_page() -> None:
    versions = versions_table(OVERVIEW, "/srv/data")
    assert versions["version"].tolist() == ["v2", "v1"]
    assert versions["champion"].tolist() == [True, False]
    assert versions["W&B"].tolist()[0] == "https://wandb.ai/team/tmdb/runs/abc"
    assert versions["W&B"].isna().tolist() == [False, True]
    assert versions["W&B offline run"].tolist() == [
        "",
        "wandb sync /srv/data/wandb/wandb/offline-run-*-off1",
    ]
    candidates = candidates_table(DECISION_R2)
    assert candidates["challenger"].tolist() == [True, False, False]
    assert candidates["W&B offline run"].tolist()[2].endswith("offline-run-*-abc")
    history = history_table(OVERVIEW)
    assert history["reason"].tolist() == ["beats champion by 0.1", "first"]


def test_wandb_links_only_for_online_runs() -> None:
    assert wandb_url({"wandb_url": "https://wandb.ai/x/y/runs/z"}) == "https://wandb.ai/x/y/runs/z"
    assert wandb_url({"wandb_run_id": "offline-abc"}) is None
    assert wandb_url({"wandb_url": "file:///tmp/wandb/offline-run"}) is None
    assert wandb_sync_command({"wandb_url": "https://wandb.ai/x", "wandb_run_id": "z"}, "d") == ""
    assert wandb_sync_command({}, "d") == ""  # W&B disabled: nothing to sync, and no "None"


def test_diff_of_two_versions() -> None:
    v2, v1 = OVERVIEW["versions"]
    diff = diff_versions(v2, v1).set_index(["section", "field"])
    assert diff.loc[("model", "model_name")].tolist() == ["lightgbm", "xgboost", True]
    assert diff.loc[("params", "n_estimators")].tolist() == ["400", "400", False]
    assert diff.loc[("params", "max_depth")].tolist() == ["—", "6", True]
    assert diff.loc[("metrics", "test_rmse")].tolist() == ["0.7", "0.8", True]
    assert diff.loc[("data", "data_fingerprint")].tolist() == ["f2", "f1", True]
    assert diff.loc[("data", "file model.joblib"), "a"].startswith("10 B, sha256 abababab")
    assert ("model", "champion") not in diff.index  # a flag of the listing, not of the version
    assert list(diff.index.get_level_values("section").unique()) == [
        "model", "params", "metrics", "data",
    ]  # fmt: skip


def test_what_each_version_learned_from_and_the_champion_recipe() -> None:
    from moviescore.studio.registry_view import (
        attempts_table,
        candidates_table,
        data_table,
        demo_champion,
    )

    data = {"ds": "2026-11-20", "label_scale": "imdb_rating", "sources": {"omdb_sample": 897},
            "train": 627, "val": 135, "test": 135, "fingerprint": "f00d",
            "release_dates": {"test": ["2013-01-01", "2014-12-31"]}}  # fmt: skip
    overview = {"versions": [{"version": "v9", "demo": True, "champion": True, "data": data}]}
    row = data_table(overview).iloc[0]
    assert bool(row["demo"]) and row["label scale"] == "imdb_rating" and demo_champion(overview)
    assert row["cutoff"] == "2026-11-20" and row["sources"] == "omdb_sample 897"
    assert row["test"] == "135 (2013-01-01 … 2014-12-31)"
    decision = {"candidates": [{"model_name": "xgboost", "metrics": {"test_rmse": 0.75}}],
                "champion_recipe": {"model_name": "lightgbm", "metrics": {"test_rmse": 0.76}},
                "challenger": "xgboost", "run_id": "run-1"}  # fmt: skip
    assert list(candidates_table(decision)["model"]) == ["xgboost", "lightgbm (champion's recipe)"]
    attempts = {"attempts": {"run-1": [{"action": "promote"}, {"action": None}]}}
    assert attempts_table(attempts, "run-1")["action"].tolist()[0] == "promote"
    assert len(attempts_table(attempts, "run-1")) == 2
