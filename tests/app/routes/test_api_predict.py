"""POST /predict and /predict/batch against a small real pipeline."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.schemas import EXAMPLE_MOVIE


def movie(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE_MOVIE)
    body.update(changes)
    return body


def test_predict_answers_rating_version_and_sentiment(client: TestClient, pipeline) -> None:
    response = client.post("/predict", json=movie())
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 <= body["predicted_rating"] <= 10
    assert body["model_version"] == "v-test"
    assert body["model_name"] == "xgboost"
    assert set(body["sentiment"]) == {"polarity", "subjectivity"}
    # The API scores exactly what the pipeline scores for the same raw record.
    from app.schemas import MovieIn

    expected = float(pipeline.predict([MovieIn(**movie()).to_record()])[0])
    assert body["predicted_rating"] == pytest.approx(min(max(expected, 0), 10), abs=0.005)


def test_prediction_depends_on_the_description(client: TestClient) -> None:
    good = movie(
        overview="A brilliant, moving and beautiful story.", runtime=170, genres=["Documentary"]
    )
    bad = movie(overview="A dull, terrible and boring story.", runtime=85, genres=["Horror"])
    r_good = client.post("/predict", json=good).json()
    r_bad = client.post("/predict", json=bad).json()
    assert r_good["predicted_rating"] > r_bad["predicted_rating"]
    assert r_good["sentiment"]["polarity"] > 0 > r_bad["sentiment"]["polarity"]


def test_minimal_movie_and_unseen_categories_are_fine(client: TestClient) -> None:
    body = {"title": "X", "original_language": "xx", "release_date": "2030-01-01"}
    assert client.post("/predict", json=body).status_code == 200
    odd = movie(genres=["science FICTION"], keywords=["never seen"], runtime=None, budget=0)
    response = client.post("/predict", json=odd)
    assert response.status_code == 200
    assert response.json()["sentiment"]["polarity"] != 0  # the example overview has a tone


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": None}, "title"),
        ({"runtime": "long"}, "runtime"),
        ({"runtime": 1001}, "runtime"),
        ({"runtime": -1}, "runtime"),
        ({"budget": 2e10}, "budget"),
        ({"release_date": "1869-12-31"}, "release_date"),
        ({"release_date": "2101-01-01"}, "release_date"),
        ({"release_date": "next summer"}, "release_date"),
        ({"overview": "x" * 10_001}, "overview"),
        ({"title": "t" * 501}, "title"),
        ({"genres": ["Drama"] * 101}, "genres"),
        ({"genres": "Drama"}, "genres"),
        ({"original_language": "english!"}, "original_language"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client: TestClient, changes, field) -> None:
    response = client.post("/predict", json=movie(**changes))
    assert response.status_code == 422, response.text
    locations = [err["loc"] for err in response.json()["detail"]]
    assert any(field in loc for loc in locations), locations


def test_missing_field_and_broken_json(client: TestClient) -> None:
    body = movie()
    del body["release_date"]
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "release_date"]
    broken = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422


def test_batch_scores_every_movie_in_order(client: TestClient) -> None:
    movies = [movie(runtime=r) for r in (85, 120, 170)] + [movie(overview="A dull, boring film.")]
    response = client.post("/predict/batch", json={"movies": movies})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "v-test"
    singles = [client.post("/predict", json=m).json()["predicted_rating"] for m in movies]
    assert [p["predicted_rating"] for p in body["predictions"]] == singles


def test_batch_bounds(client: TestClient) -> None:
    assert client.post("/predict/batch", json={"movies": []}).status_code == 422
    too_many = client.post("/predict/batch", json={"movies": [movie()] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "movies"]
    bad_item = client.post("/predict/batch", json={"movies": [movie(), movie(runtime=-5)]})
    assert bad_item.status_code == 422
    assert bad_item.json()["detail"][0]["loc"] == ["body", "movies", 1, "runtime"]


def test_full_batch_of_1000_fits_the_default_body_limit_and_scores_every_movie(
    client: TestClient,
) -> None:
    response = client.post(
        "/predict/batch", json={"movies": [movie(runtime=80 + i % 90) for i in range(1000)]}
    )
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 1000


def test_no_model_is_a_clear_503(empty_client: TestClient) -> None:
    for path, body in (("/predict", movie()), ("/predict/batch", {"movies": [movie()]})):
        response = empty_client.post(path, json=body)
        assert response.status_code == 503
        assert "no model loaded" in response.json()["detail"]
    # Bad input is still named, even with no model.
    assert empty_client.post("/predict", json=movie(runtime=-1)).status_code == 422


def test_sentiment_read_from_the_features_matches_textblob(client: TestClient) -> None:
    from moviescore.training.features import sentiment

    overview = "A brilliant, moving story with a terrible ending."
    body = client.post("/predict", json=movie(overview=overview)).json()
    polarity, subjectivity = sentiment(overview)
    assert body["sentiment"] == {
        "polarity": pytest.approx(polarity, abs=1e-4),
        "subjectivity": pytest.approx(subjectivity, abs=1e-4),
    }


def test_keywords_left_out_are_unknown_not_empty() -> None:
    """The model treats unknown keywords as missing; an empty list reads as an obscure film."""
    from app.schemas import MovieIn

    described = movie()
    del described["keywords"]
    assert MovieIn(**described).to_record()["keywords"] is None
    assert MovieIn(**movie(keywords=[])).to_record()["keywords"] == []


# --- interval, warnings, explanations ---------------------------------------------------------


@pytest.fixture
def full_client(settings, pipeline) -> Any:
    """A bundle as the pipeline publishes it now: calibration, training ranges, comparables."""
    import pandas as pd

    from app.main import create_app
    from app.model_manager import ModelManager
    from moviescore.registry.store import ModelBundle
    from moviescore.serving.calibration import calibrate
    from moviescore.serving.comparables import comparables_files
    from moviescore.serving.ranges import training_ranges
    from tests.helpers.live import manifest_for
    from tests.helpers.movies import learnable_records

    records, ratings = learnable_records()
    rows = pd.DataFrame(records).assign(vote_average=ratings)
    manifest = manifest_for(pipeline).model_copy(
        update={
            "calibration": calibrate(ratings, pipeline.predict(records)),
            "training_ranges": training_ranges(rows),
        }
    )
    bundle = ModelBundle("v-full", manifest, pipeline, files=comparables_files(rows))
    with TestClient(create_app(settings, manager=ModelManager.static(bundle))) as c:
        yield c


def test_every_answer_has_an_interval_and_warnings(full_client: TestClient) -> None:
    body = full_client.post("/predict", json=movie(release_date="2014-03-01")).json()
    interval = body["interval"]
    assert interval["level"] == 0.8
    assert interval["low"] <= body["predicted_rating"] <= interval["high"]
    # within every training range; the synthetic films have no keywords the model knows
    assert body["warnings"] == ["3 of 3 keywords are unknown to the model and carry no signal."]
    assert "explanation" not in body and "comparables" not in body
    batch = full_client.post("/predict/batch", json={"movies": [movie(), movie()]}).json()
    assert all("interval" in p and "warnings" in p for p in batch["predictions"])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"budget": 1e10}, "Budget $10B is outside"),
        ({"runtime": 400}, "Runtime 400 min is outside"),
        ({"release_date": "2030-06-01"}, "Release year 2030"),
        ({"keywords": None}, "Keywords left out"),
        ({"keywords": []}, "empty list"),
        ({"overview": ""}, "No overview"),
    ],
)
def test_one_warning_per_cause_through_the_api(
    full_client: TestClient, changes: dict[str, Any], expected: str
) -> None:
    base = movie(release_date="2013-03-01", keywords=None)
    warnings = full_client.post("/predict", json=base | changes).json()["warnings"]
    assert any(expected in w for w in warnings), warnings
    # the base leaves keywords out, which is a warning of its own
    assert len(warnings) == (1 if "keywords" in changes else 2), warnings


def test_explain_answers_groups_that_add_up_and_comparables(
    full_client: TestClient, pipeline
) -> None:
    from app.schemas import MovieIn

    response = full_client.post("/predict?explain=true", json=movie())
    assert response.status_code == 200, response.text
    body = response.json()
    explanation = body["explanation"]
    raw = float(pipeline.predict([MovieIn(**movie()).to_record()])[0])
    total = explanation["base_rating"] + sum(c["value"] for c in explanation["contributions"])
    assert total == pytest.approx(raw, abs=0.01)
    assert {"genres", "budget", "runtime", "release date"} <= {
        c["group"] for c in explanation["contributions"]
    }
    budget = next(c for c in explanation["contributions"] if c["group"] == "budget")
    assert budget["detail"] == "budget $95M"
    assert len(body["comparables"]) == 5
    assert set(body["comparables"][0]) == {"title", "release_year", "budget", "rating"}
    batch = full_client.post("/predict/batch?explain=true", json={"movies": [movie()] * 2})
    assert batch.json()["predictions"][1]["explanation"] == explanation


@pytest.mark.parametrize(
    ("query", "explained"),
    [("", False), ("?explain=1", True), ("?explain=off", False), ("?Explain=true", False),
     ("?explain=true&explain=no", False), ("?other=1", False)],
)  # fmt: skip
def test_explain_flag_reads_as_a_declared_bool_would(
    full_client: TestClient, query: str, explained: bool
) -> None:
    body = full_client.post(f"/predict{query}", json=movie()).json()
    assert ("explanation" in body) is explained


def test_explain_flag_that_is_no_bool_is_a_422_and_is_documented(full_client: TestClient) -> None:
    refused = full_client.post("/predict/batch?explain=maybe", json={"movies": [movie()]})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "explain"]
    paths = full_client.get("/openapi.json").json()["paths"]
    for path in ("/predict", "/predict/batch"):
        (param,) = paths[path]["post"]["parameters"]
        assert param["name"] == "explain" and param["schema"]["type"] == "boolean"


def test_an_older_bundle_still_explains_without_comparables(client: TestClient) -> None:
    body = client.post("/predict?explain=true", json=movie()).json()
    assert body["explanation"]["contributions"]
    assert body["comparables"] == []
    assert any("without a comparables index" in w for w in body["warnings"])
    assert any("without a calibrated interval" in w for w in body["warnings"])
    assert body["interval"]["low"] < body["predicted_rating"] < body["interval"]["high"]


@pytest.mark.parametrize(
    ("changes", "field", "listed"),
    [
        ({"genres": ["Sci-Fi"]}, "genres", "Science Fiction, TV Movie"),
        ({"original_language": "eng"}, "original_language", "en, eo"),
        ({"runtime": 0}, "runtime", "use null for unknown"),
    ],
)
def test_invalid_names_are_a_422_listing_the_valid_ones(
    client: TestClient, changes: dict[str, Any], field: str, listed: str
) -> None:
    response = client.post("/predict", json=movie(**changes))
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", field]
    assert listed in error["msg"]


def test_genre_spelling_is_tmdbs(client: TestClient) -> None:
    from app.schemas import MovieIn

    assert MovieIn(**movie(genres=["science fiction"])).genres == ["Science Fiction"]
