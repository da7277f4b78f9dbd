"""Each candidate fits and predicts on small synthetic data, with seeds that make reruns equal."""

from __future__ import annotations

import numpy as np
import pytest

from moviescore.training.specs import CANDIDATES, default_params, make_regressor


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    X[::7, 2] = np.nan  # missing values reach the regressors as NaN
    y = 6 + X[:, 0] - 0.5 * X[:, 1] + rng.normal(scale=0.1, size=300)
    return X, y


@pytest.mark.parametrize("name", CANDIDATES)
def test_candidate_learns_and_is_reproducible(name: str, data: tuple) -> None:
    X, y = data
    # 200 rounds: enough at the defaults' small learning rates
    a = make_regressor(name, n_estimators=200).fit(X, y)
    b = make_regressor(name, n_estimators=200).fit(X, y)
    pred = a.predict(X)
    assert pred.shape == (300,)
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.5 * np.std(y)
    np.testing.assert_array_equal(pred, b.predict(X))


@pytest.mark.parametrize("name", CANDIDATES)
def test_defaults_are_single_threaded_and_seeded(name: str) -> None:
    params = default_params(name)
    assert params["n_jobs"] == 1
    assert params["random_state"] == 42
    params["n_jobs"] = 8  # a copy: callers cannot change the defaults
    assert default_params(name)["n_jobs"] == 1


def test_overrides_win() -> None:
    assert make_regressor("xgboost", max_depth=2).get_params()["max_depth"] == 2


def test_unknown_candidate_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        make_regressor("svm")


def test_default_forest_stays_small_for_one_row_serving(data: tuple) -> None:
    """sklearn pays per tree on a one-row predict: few, leaf-bounded trees keep it near 2 ms."""
    X, y = data
    forest = make_regressor("random_forest").fit(np.tile(X, (10, 1)), np.tile(y, 10))
    assert len(forest.estimators_) <= 50
    assert max(tree.get_n_leaves() for tree in forest.estimators_) <= 256
