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
    odd = movie(genres=["Nonexistent Genre"], keywords=["never seen"], runtime=None, budget=0)
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
