"""Each candidate's spec builds, fits and predicts on small synthetic data, with seeds that make
reruns equal; importing the specs loads no model library."""

from __future__ import annotations

import numpy as np
import pytest

from moviescore.training.specs import CANDIDATES, SEED, spec, spec_for
from tests.helpers.processes import modules_loaded_by


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
    a = spec(name).build(n_estimators=200).fit(X, y)
    b = spec(name).build(n_estimators=200).fit(X, y)
    pred = a.predict(X)
    assert pred.shape == (300,)
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.5 * np.std(y)
    np.testing.assert_array_equal(pred, b.predict(X))


@pytest.mark.parametrize("name", CANDIDATES)
def test_defaults_are_single_threaded_and_seeded(name: str) -> None:
    params = spec(name).params()
    assert params["n_jobs"] == 1
    assert params["random_state"] == SEED == 42
    params["n_jobs"] = 8  # a copy: callers cannot change the defaults
    assert spec(name).params()["n_jobs"] == 1
    with pytest.raises(TypeError):
        spec(name).defaults["n_jobs"] = 8  # type: ignore[index]


def test_overrides_win() -> None:
    assert spec("xgboost").build(max_depth=2).get_params()["max_depth"] == 2


def test_unknown_candidate_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown model 'svm'; choose one of xgboost, lightgbm"):
        spec("svm")


@pytest.mark.parametrize("name", CANDIDATES)
def test_each_fitted_regressor_finds_its_own_spec(name: str, data: tuple) -> None:
    X, y = data
    model = spec(name).build(n_estimators=5).fit(X, y)
    assert spec_for(model) is spec(name)
    assert spec_for(object()) is None


@pytest.mark.parametrize("name", CANDIDATES)
def test_fit_stops_boosters_early_and_the_fast_predictor_agrees(name: str, data: tuple) -> None:
    X, y = data
    model_spec = spec(name)
    # a fast learning rate and few features: the validation error stops falling long before 600
    model = model_spec.build(**({} if name == "random_forest" else {"learning_rate": 0.5}))
    model_spec.fit(model, X[:200], y[:200], X[200:], y[200:])
    best = model_spec.best_iteration(model)
    if name == "random_forest":
        assert best is None
    else:  # far fewer rounds than the 600 allowed: early stopping on the validation rows worked
        assert best is not None and 0 <= best < model_spec.defaults["n_estimators"] - 50
    np.testing.assert_allclose(model_spec.predictor(model)(X), model.predict(X), rtol=1e-6)


@pytest.mark.parametrize("name", CANDIDATES)
def test_contributions_sum_to_the_prediction(name: str, data: tuple) -> None:
    X, y = data
    model_spec = spec(name)
    model = model_spec.build(**({} if name == "random_forest" else {"learning_rate": 0.5}))
    model_spec.fit(model, X[:200], y[:200], X[200:], y[200:])  # boosters stop early
    contributions = model_spec.contributions(model, X)
    assert contributions.shape == (len(X), X.shape[1] + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict(X), atol=1e-4)
    assert np.abs(contributions[:, 0]).mean() > np.abs(contributions[:, 5]).mean()  # y uses x0


def test_default_forest_stays_small_for_one_row_serving(data: tuple) -> None:
    """sklearn pays per tree on a one-row predict: few, leaf-bounded trees keep it near 2 ms."""
    X, y = data
    forest = spec("random_forest").build().fit(np.tile(X, (10, 1)), np.tile(y, 10))
    assert len(forest.estimators_) <= 50
    assert max(tree.get_n_leaves() for tree in forest.estimators_) <= 256


def test_importing_the_specs_loads_no_model_library() -> None:
    heavy = ("numpy", "xgboost", "lightgbm", "sklearn", "onnx")
    assert modules_loaded_by("moviescore.training.specs", heavy) == []
