"""Explanations, intervals and warnings on models fitted on the shared TMDB data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from moviescore.ingest.partitions import Splits, label_filter, time_split
from moviescore.ingest.raw_movie import LABEL
from moviescore.ingest.sources import read_snapshot
from moviescore.ingest.validate import validate_raw
from moviescore.serving.calibration import Interval, calibrate
from moviescore.serving.comparables import Comparables, comparables_files
from moviescore.serving.explain import GROUPS, Explainer, group_of
from moviescore.serving.ranges import Warner, training_ranges
from moviescore.training.candidates import CandidateResult, train_candidate
from moviescore.training.specs import CANDIDATES


@pytest.fixture(scope="module")
def splits(tmdb_5000_zip: Path) -> Splits:
    return time_split(label_filter(validate_raw(read_snapshot(tmdb_5000_zip)).valid, 5))


@pytest.fixture(scope="module")
def trained(splits: Splits) -> dict[str, CandidateResult]:
    return {name: train_candidate(name, splits) for name in CANDIDATES}


def test_every_feature_has_exactly_one_group(trained: dict[str, CandidateResult]) -> None:
    names = trained["xgboost"].pipeline[0].get_feature_names_out()
    groups = {str(n): group_of(str(n)) for n in names}  # KeyError = an unmapped feature
    assert set(groups.values()) == set(GROUPS)
    # the text score (when on) reads mostly the overview; the genres' encoding is the genres'
    assert group_of("text_score") == "overview text and sentiment"
    assert groups["te_genres_mean"] == "genres"
    with pytest.raises(KeyError, match="no explanation group"):
        group_of("some_new_feature")


@pytest.mark.parametrize("name", CANDIDATES)
def test_groups_add_up_to_the_raw_prediction(
    name: str, trained: dict[str, CandidateResult], splits: Splits
) -> None:
    pipeline = trained[name].pipeline
    rows = splits.test.head(150)
    X = pipeline[0].transform(rows)
    raw = pipeline[-1].predict(X)  # unclamped
    explainer = Explainer(pipeline)
    explained = explainer.explain(X, rows.to_dict("records"))
    for answer, expected in zip(explained, raw, strict=True):
        total = answer["base_rating"] + sum(c["value"] for c in answer["contributions"])
        assert total == pytest.approx(expected, abs=0.01)
        assert [c["group"] for c in answer["contributions"]] != []
        assert {c["group"] for c in answer["contributions"]} == set(GROUPS)
        assert all(isinstance(c["detail"], str) and c["detail"] for c in answer["contributions"])
    base, values = explainer.raw(X)  # unrounded: exact to float precision
    np.testing.assert_allclose(base + values.sum(axis=1), raw, atol=1e-4)


def test_forest_treeshap_is_exact(trained: dict[str, CandidateResult], splits: Splits) -> None:
    pipeline = trained["random_forest"].pipeline
    X = pipeline[0].transform(splits.test)
    assert np.isnan(X).any()  # missing values take each split's learned branch
    base, values = Explainer(pipeline).raw(X)
    np.testing.assert_allclose(base + values.sum(axis=1), pipeline[-1].predict(X), atol=1e-6)


def test_interval_covers_held_out_releases(trained: dict[str, CandidateResult]) -> None:
    """Calibrated on one random half of the held-out test releases, checked on the other."""
    result = trained["lightgbm"]
    half = np.random.default_rng(0).random(len(result.test_true)) < 0.5
    interval = Interval(calibrate(result.test_true[half], result.test_pred[half]))
    coverage = interval.coverage(result.test_true[~half], result.test_pred[~half])
    assert 0.72 <= coverage <= 0.88
    assert result.calibration is not None and result.calibration["n"] == len(result.test_true)
    answer = interval.around(6.0)
    assert answer["level"] == 0.8 and answer["low"] < 6.0 < answer["high"]


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    calibration = calibrate(np.zeros(9), np.arange(1, 10))  # scores 1..9; rank ceil(10*0.8) = 8
    assert calibration["q"] == 8.0 and calibration["n"] == 9
    assert calibrate([0.0], [1.0])["q"] == np.inf  # one row cannot bound 80 %
    with pytest.raises(ValueError, match="no rows"):
        calibrate([], [])


def _movie(**overrides: Any) -> dict[str, Any]:
    movie = {
        "title": "A Film",
        "overview": "A quiet story.",
        "release_date": "2013-05-01",
        "budget": 2e7,
        "runtime": 100.0,
        "keywords": ["love"],
        "genres": ["Drama"],
        "original_language": "en",
    }
    return movie | overrides


def test_one_warning_per_cause(splits: Splits) -> None:
    fitted = pd.concat([splits.train, splits.val])
    warner = Warner(training_ranges(fitted), {"love"})
    assert warner.warnings(_movie()) == []
    cases = {
        "Budget $10B is outside": _movie(budget=1e10),
        "Runtime 900 min is outside": _movie(runtime=900.0),
        "Release year 2030 is": _movie(release_date="2030-01-01"),
        "1 of 1 keywords is unknown": _movie(keywords=["zzz"]),
        "Keywords left out": _movie(keywords=None),
        "empty list": _movie(keywords=[]),
        "No overview": _movie(overview=""),
        "No budget": _movie(budget=None),
        "No runtime": _movie(runtime=None),
    }
    for expected, movie in cases.items():
        warnings = warner.warnings(movie)
        assert len(warnings) == 1 and expected in warnings[0], (expected, warnings)
    both = warner.warnings(_movie(budget=1e10, overview=""))
    assert len(both) == 2


def test_comparables_are_the_nearest_labelled_films(splits: Splits) -> None:
    fitted = pd.concat([splits.train, splits.val])
    index = Comparables(comparables_files(fitted)["comparables.json.gz"])
    film = fitted.iloc[100].to_dict()
    near = index.nearest(film)
    assert len(near) == 5
    assert near[0]["title"] == film["title"]  # a training film is its own nearest
    assert near[0]["rating"] == round(film[LABEL], 2)
    assert set(near[0]) == {"title", "release_year", "budget", "rating"}
