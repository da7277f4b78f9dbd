"""The compiled (ONNX Runtime) scorer answers what the library's own predict answers, and is
refused when it would not."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from moviescore.ingest.partitions import Splits
from moviescore.serving import compiled
from moviescore.serving.compiled import CompileError, boundary_rows, compile_regressor, to_onnx
from moviescore.serving.scoring import Scorer
from moviescore.training import specs
from moviescore.training.candidates import CandidateResult, train_candidate
from moviescore.training.specs import CANDIDATES
from tests.helpers.movies import learnable_frame


def keyword_movies(n: int, seed: int, year: int) -> pd.DataFrame:
    """Keywords carry the signal, so trees split on their encoding — NaN when unknown."""
    df = learnable_frame(n, seed, year, first_id=seed * 10_000)
    good = df["vote_average"] > df["vote_average"].median()
    df["keywords"] = [["gem"] if g else ["dud"] for g in good]
    return df


@pytest.fixture(scope="module")
def trained() -> dict[str, CandidateResult]:
    splits = Splits(
        keyword_movies(300, 1, 2005), keyword_movies(80, 2, 2010), keyword_movies(80, 3, 2012)
    )
    return {name: train_candidate(name, splits) for name in CANDIDATES}


def unknown_keywords(n: int) -> pd.DataFrame:
    df = keyword_movies(n, 4, 2013)
    df.loc[df.index[::2], "keywords"] = None  # half the rows: keywords not known
    return df


@pytest.mark.parametrize("name", CANDIDATES)
def test_compiled_scorer_matches_the_library_on_known_and_unknown_values(
    name: str, trained: dict[str, CandidateResult]
) -> None:
    pipeline = trained[name].pipeline
    fast, native = Scorer(pipeline, compiled=True), Scorer(pipeline)
    assert (fast.evaluator, native.evaluator) == ("onnxruntime", "native")
    movies = unknown_keywords(200)
    assert np.isnan(native.matrix(movies)).any()  # the missing-value branches are exercised
    np.testing.assert_allclose(
        fast.ratings(movies), native.ratings(movies), atol=compiled.TOLERANCE
    )
    one = movies.head(1).to_dict("records")
    np.testing.assert_allclose(fast.score(one)[0], native.score(one)[0], atol=compiled.TOLERANCE)


def test_a_forest_converted_without_sklearn_missing_routing_is_refused(
    trained: dict[str, CandidateResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # skl2onnx alone sends NaN down one fixed branch; the boundary check must catch that.
    pipeline = trained["random_forest"].pipeline
    forest, n = pipeline.steps[-1][1], len(pipeline[:-1].get_feature_names_out())
    monkeypatch.setattr(specs, "route_missing_like_sklearn", lambda graph, forest: None)
    with pytest.raises(CompileError, match="disagrees with its library"):
        compile_regressor(forest, n, forest.predict)


def test_boundary_rows_reach_both_sides_of_every_split_and_the_missing_branch(
    trained: dict[str, CandidateResult],
) -> None:
    pipeline = trained["xgboost"].pipeline
    n = len(pipeline[:-1].get_feature_names_out())
    model = to_onnx(pipeline.steps[-1][1], n)
    X = boundary_rows(model, n)
    attrs = compiled.node_attributes(compiled.tree_node(model))
    for mode, feature, threshold in zip(
        attrs["nodes_modes"], attrs["nodes_featureids"], attrs["nodes_values"], strict=True
    ):
        if mode == b"LEAF":
            continue
        column = X[:, feature]
        assert (column < threshold).any() and (column > threshold).any()
        assert np.isnan(column).any()
        # never within float32 rounding of a threshold, where libraries may disagree honestly
        assert np.nanmin(np.abs(column - threshold)) > 1e-6 * max(1.0, abs(threshold))


def test_a_regressor_without_a_converter_keeps_the_library_predict(
    trained: dict[str, CandidateResult], caplog: pytest.LogCaptureFixture
) -> None:
    features = trained["lightgbm"].pipeline[:-1]
    train = keyword_movies(120, 5, 2005)
    other = Pipeline([*features.steps, ("model", HistGradientBoostingRegressor(max_iter=20))])
    other.steps[-1][1].fit(features.transform(train), train["vote_average"])
    with caplog.at_level(logging.WARNING, logger="moviescore.serving.scoring"):
        scorer = Scorer(other, compiled=True)
    assert scorer.evaluator == "native"
    assert "no ONNX converter for HistGradientBoostingRegressor" in caplog.text
    movies = unknown_keywords(20)
    np.testing.assert_allclose(scorer.ratings(movies), np.clip(other.predict(movies), 0, 10))
