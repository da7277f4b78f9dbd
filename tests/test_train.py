"""train_candidate end to end on synthetic raw movies, and the pickled artifact."""

from __future__ import annotations

import math

import joblib
import numpy as np
import pandas as pd
import pytest

from moviescore.ingest.partitions import Splits
from moviescore.serving.scoring import Scorer
from moviescore.training.candidates import (
    RefitError,
    baseline_metrics,
    evaluate,
    ship,
    train_candidate,
)
from moviescore.training.specs import CANDIDATES, spec
from tests.helpers.movies import learnable_splits

KEYS = {f"{s}_{m}" for s in ("train", "val", "test") for m in ("rmse", "mae", "r2")} | {"rmse_gap"}


@pytest.fixture(scope="module")
def splits() -> Splits:
    return learnable_splits()


@pytest.mark.parametrize("name", CANDIDATES)
def test_train_candidate_metrics_and_artifact(name: str, splits: Splits, tmp_path) -> None:
    result = train_candidate(name, splits)
    m = result.metrics
    assert set(m) == KEYS
    assert all(math.isfinite(v) for v in m.values())
    base = baseline_metrics(splits)
    assert m["test_rmse"] < 0.7 * base["test_rmse"]  # it learned the signal
    assert m["val_rmse"] < 0.7 * base["val_rmse"]
    assert m["rmse_gap"] == pytest.approx(m["test_rmse"] - m["train_rmse"])
    assert result.model_name == name and result.params["random_state"] == 42
    assert len(result.test_true) == len(result.test_pred) == 60
    assert ((result.test_pred >= 0) & (result.test_pred <= 10)).all()
    assert set(result.feature_importances) == set(result.pipeline[0].get_feature_names_out())
    assert sum(result.feature_importances.values()) == pytest.approx(1.0)
    assert evaluate(result.pipeline, splits.test)["rmse"] == pytest.approx(m["test_rmse"])

    path = tmp_path / "model.joblib"
    joblib.dump(result.pipeline, path)
    loaded = joblib.load(path)
    records = splits.test.drop(columns=["vote_average", "vote_count"]).to_dict("records")
    np.testing.assert_array_equal(loaded.predict(records), result.pipeline.predict(records))
    np.testing.assert_array_equal(loaded.predict(records[:1]), result.pipeline.predict(records[:1]))


def test_boosters_keep_the_early_stopped_round_count(splits: Splits) -> None:
    result = train_candidate("xgboost", splits)
    best = result.params["best_iteration"]
    assert 0 <= best < result.params["n_estimators"] == spec("xgboost").params()["n_estimators"]
    shipped = ship("xgboost", result.params, splits, result.pipeline)
    rows = sum(len(s) for s in splits)
    expected = round((best + 1) * rows / len(splits.train))  # the rounds, scaled to every row
    assert shipped.params["refit_rounds"] == expected == shipped.pipeline[-1].n_estimators
    assert shipped.rows == rows and shipped.check["rms_drift"] <= shipped.check["max_drift"]


def test_a_broken_refit_is_not_shipped(splits: Splits) -> None:
    """The refit is checked against the model that was judged, on the test rows: a refit that
    lost its rounds (one tree, nearly the mean) is refused."""
    result = train_candidate("lightgbm", splits)
    broken = result.params | {"best_iteration": 0}
    with pytest.raises(RefitError, match="fails its check on the test rows"):
        ship("lightgbm", broken, splits, result.pipeline)


def test_baseline_predicts_the_training_mean(splits: Splits) -> None:
    base = baseline_metrics(splits)
    assert set(base) == KEYS
    mean = splits.train["vote_average"].mean()
    expected = np.sqrt(np.mean((splits.test["vote_average"] - mean) ** 2))
    assert base["test_rmse"] == pytest.approx(expected)
    assert base["train_r2"] == pytest.approx(0.0, abs=1e-12)


def test_empty_split_is_a_clear_error(splits: Splits) -> None:
    empty = Splits(splits.train, splits.val.iloc[:0], splits.test)
    with pytest.raises(ValueError, match="'val' is empty"):
        train_candidate("xgboost", empty)


def with_keyword_signal(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A quarter of the films have no keywords and rate 2 points lower (the 'obscure' ones)."""
    obscure = np.random.default_rng(seed).random(len(df)) < 0.25
    return df.assign(
        keywords=[[] if o else ["love", "war", "dog"] for o in obscure],
        vote_average=np.clip(df["vote_average"] - 2.0 * obscure, 0, 10),
    )


@pytest.mark.parametrize("name", CANDIDATES)
def test_unknown_keywords_are_not_read_as_no_keywords(name: str, splits: Splits) -> None:
    """A source without keywords (None) must not be scored like a film that has none ([])."""
    keyed = Splits(*(with_keyword_signal(df, i) for i, df in enumerate(splits)))
    result = train_candidate(name, keyed)
    served = ship(name, result.params, keyed, result.pipeline).pipeline  # what the API serves
    test = keyed.test
    with_none = Scorer(served).ratings(test.assign(keywords=[None] * len(test)))
    with_empty = Scorer(served).ratings(test.assign(keywords=[[]] * len(test)))
    y = test["vote_average"].to_numpy()
    rmse = lambda p: float(np.sqrt(np.mean((p - y) ** 2)))  # noqa: E731
    assert rmse(with_none) < min(rmse(with_empty), baseline_metrics(keyed)["test_rmse"]), (
        rmse(with_none),
        rmse(with_empty),
    )
    if name != "random_forest":  # boosters learn where NaN goes; the forest only roughly
        bias_none, bias_empty = abs(with_none.mean() - y.mean()), abs(with_empty.mean() - y.mean())
        assert bias_none < 0.5 * bias_empty, (bias_none, bias_empty)
        assert rmse(with_none) < 0.75 * rmse(with_empty)
