"""The candidate regressors: one `ModelSpec` per model owns everything that depends on its type.

A spec knows its tuned defaults, how to build, fit (early stopping), predict fast, compile to ONNX
and explain its regressor. Adding a candidate means adding a spec here (and its library to the
lock); nothing else branches on the model type. Importing this module is cheap: xgboost, lightgbm,
scikit-learn, the ONNX converters (and numpy) are imported inside the methods that use them.

The boosters' defaults come from `moviescore tune` (Optuna) on the rolling backtest's validation
years only (docs/bench/tuning/); no fold's test years were used to pick them. Seeds are fixed so a
rerun on the same data gives the same model. Every candidate predicts with one thread: the API
scores one movie at a time, where thread start-up costs more than it saves.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy too is imported where used: the DAG file reads CANDIDATES at every parse
    import numpy as np

SEED = 42
EARLY_STOPPING_ROUNDS = 50


@dataclass(frozen=True)
class ModelSpec:
    """One candidate. `regressor` is "module:Class", imported on first `build`."""

    name: str
    regressor: str
    defaults: Mapping[str, Any]

    def params(self, **overrides: Any) -> dict[str, Any]:
        """A copy of the tuned defaults with `overrides` applied."""
        return dict(self.defaults) | overrides

    def build(self, **overrides: Any) -> Any:
        """An unfitted regressor: the defaults with `overrides` applied."""
        module, cls = self.regressor.split(":")
        return getattr(importlib.import_module(module), cls)(**self.params(**overrides))

    def owns(self, model: Any) -> bool:
        """Whether `model` is this spec's regressor (an instance means its module is loaded)."""
        module, cls = self.regressor.split(":")
        loaded = sys.modules.get(module)
        return loaded is not None and isinstance(model, getattr(loaded, cls))

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray, X_val: Any, y_val: Any) -> None:
        """Fit on (X, y); a booster stops early on the validation rows and keeps its best round."""
        model.fit(X, y)

    def best_iteration(self, model: Any) -> int | None:
        """The early-stopped round of a fitted model, or None when it does not boost."""
        return None

    def learning_curve(self, model: Any) -> dict[str, list[float]]:
        """`train_rmse` and `val_rmse` per boosting round (per tree for a forest) of a model `fit`
        with validation rows; empty for a model fitted without them."""
        return {}

    def predictor(self, model: Any) -> Callable[[np.ndarray], Any]:
        """`model.predict` on a feature matrix, through the library's fastest call."""
        return model.predict

    def to_onnx(self, model: Any, n_features: int) -> Any:
        """The fitted model as an ONNX graph with one float32 input `X` of `n_features` columns."""
        raise NotImplementedError(f"no ONNX converter for {self.name}")

    def contributions(self, model: Any, X: np.ndarray) -> np.ndarray:
        """Per-feature contributions (n, n_features + 1; last column the bias); each row sums to
        the model's prediction."""
        raise NotImplementedError(f"no per-feature contributions for {self.name} yet")

    def contributor(self, model: Any) -> Callable[[np.ndarray], np.ndarray]:
        """`contributions` of `model` as one callable, with whatever it needs built once."""
        return lambda X: self.contributions(model, X)


def _booster_input(n_features: int) -> list[tuple[str, Any]]:
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [("X", FloatTensorType([None, n_features]))]


class _XGBoost(ModelSpec):
    def fit(self, model: Any, X: np.ndarray, y: np.ndarray, X_val: Any, y_val: Any) -> None:
        model.set_params(early_stopping_rounds=EARLY_STOPPING_ROUNDS)
        # the training rows are evaluated for the learning curve; the last set decides the stop
        model.fit(X, y, eval_set=[(X, y), (X_val, y_val)], verbose=False)

    def learning_curve(self, model: Any) -> dict[str, list[float]]:
        try:
            evals = model.evals_result()
        except Exception:  # fitted without an evaluation set
            return {}
        if len(evals) < 2:
            return {}
        train, val = (evals[k]["rmse"] for k in ("validation_0", "validation_1"))
        return {"train_rmse": [float(v) for v in train], "val_rmse": [float(v) for v in val]}

    def best_iteration(self, model: Any) -> int | None:
        try:
            return int(model.best_iteration)
        except AttributeError:  # fitted without early stopping
            return None

    def _rounds(self, model: Any) -> tuple[int, int]:
        best = self.best_iteration(model)
        return (0, 0) if best is None else (0, best + 1)  # (0, 0): all trees, as the wrapper does

    def predictor(self, model: Any) -> Callable[[np.ndarray], Any]:
        rounds, booster = self._rounds(model), model.get_booster()
        return lambda X: booster.inplace_predict(X, iteration_range=rounds)

    def to_onnx(self, model: Any, n_features: int) -> Any:
        from onnxmltools import convert_xgboost

        return convert_xgboost(model, initial_types=_booster_input(n_features))

    def contributions(self, model: Any, X: np.ndarray) -> np.ndarray:
        import numpy as np
        from xgboost import DMatrix

        booster = model.get_booster()
        # nthread=1: with every core, building a one-row DMatrix costs more than explaining it
        rows = DMatrix(np.asarray(X, dtype=float), missing=np.nan, nthread=1)
        return np.asarray(
            booster.predict(rows, pred_contribs=True, iteration_range=self._rounds(model))
        )


class _LightGBM(ModelSpec):
    def fit(self, model: Any, X: np.ndarray, y: np.ndarray, X_val: Any, y_val: Any) -> None:
        import lightgbm as lgb

        stop = lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)
        # the training set (the same objects) is recorded for the curve, never used to stop
        model.fit(X, y, eval_X=(X, X_val), eval_y=(y, y_val), callbacks=[stop])

    def learning_curve(self, model: Any) -> dict[str, list[float]]:
        evals = getattr(model, "evals_result_", None) or {}
        if "training" not in evals or "valid_1" not in evals:
            return {}
        return {  # LightGBM's regression metric is l2 (MSE)
            "train_rmse": [float(v) ** 0.5 for v in evals["training"]["l2"]],
            "val_rmse": [float(v) ** 0.5 for v in evals["valid_1"]["l2"]],
        }

    def best_iteration(self, model: Any) -> int | None:
        best = model.best_iteration_
        return int(best) if best is not None and best >= 0 else None

    def predictor(self, model: Any) -> Callable[[np.ndarray], Any]:
        booster = model.booster_  # predicts at its best iteration, as the wrapper does
        return lambda X: booster.predict(X, num_threads=1)

    def to_onnx(self, model: Any, n_features: int) -> Any:
        from onnxmltools import convert_lightgbm

        return convert_lightgbm(model, initial_types=_booster_input(n_features), zipmap=False)

    def contributions(self, model: Any, X: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(model.booster_.predict(X, pred_contrib=True, num_threads=1))


class _RandomForest(ModelSpec):
    def fit(self, model: Any, X: np.ndarray, y: np.ndarray, X_val: Any, y_val: Any) -> None:
        model.fit(X, y)
        # RMSE of the first k trees' average, k = 1..n: the forest's learning curve
        model.learning_curve_ = {
            "train_rmse": _rmse_by_trees(model, X, y),
            "val_rmse": _rmse_by_trees(model, X_val, y_val),
        }

    def learning_curve(self, model: Any) -> dict[str, list[float]]:
        return dict(getattr(model, "learning_curve_", {}))

    def contributor(self, model: Any) -> Callable[[np.ndarray], np.ndarray]:
        """Exact TreeSHAP: shap's tree-path-dependent algorithm, which follows each sklearn
        split's learned missing-value branch. Its explainer is built here, once."""
        import numpy as np
        from shap import TreeExplainer  # the serve extra: only the API explains

        explainer = TreeExplainer(model)
        base = float(np.ravel(explainer.expected_value)[0])

        def contributions(X: np.ndarray) -> np.ndarray:
            values = explainer.shap_values(np.asarray(X, dtype=float), check_additivity=False)
            return np.hstack([values, np.full((len(values), 1), base)])

        return contributions

    def contributions(self, model: Any, X: np.ndarray) -> np.ndarray:
        return self.contributor(model)(X)

    def to_onnx(self, model: Any, n_features: int) -> Any:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        graph = convert_sklearn(model, initial_types=[("X", FloatTensorType([None, n_features]))])
        route_missing_like_sklearn(graph, model)
        return graph


def _rmse_by_trees(forest: Any, X: Any, y: Any) -> list[float]:
    import numpy as np

    per_tree = np.stack([tree.predict(X) for tree in forest.estimators_])
    running = np.cumsum(per_tree, axis=0) / np.arange(1, len(per_tree) + 1)[:, None]
    return [float(v) for v in np.sqrt(np.mean((running - np.asarray(y)) ** 2, axis=1))]


def route_missing_like_sklearn(graph: Any, forest: Any) -> None:
    """skl2onnx 1.20 sends a missing value down the false branch of every split, whereas a
    scikit-learn tree (>= 1.3) learns per split where missing values go (`missing_go_to_left`).
    Our features use NaN for "unknown", so copy sklearn's choice into the graph."""
    from onnx import helper

    from moviescore.serving.compiled import node_attributes, tree_node

    node = tree_node(graph)
    attrs = node_attributes(node)
    go_left = [tree.tree_.missing_go_to_left for tree in forest.estimators_]
    tracks_true = [
        int(go_left[tree_id][node_id])  # true branch = x <= threshold = sklearn's left child
        for tree_id, node_id in zip(attrs["nodes_treeids"], attrs["nodes_nodeids"], strict=True)
    ]
    for attribute in node.attribute:
        if attribute.name == "nodes_missing_value_tracks_true":
            node.attribute.remove(attribute)
            break
    node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", tracks_true))


_SPECS: tuple[ModelSpec, ...] = (
    _XGBoost(
        "xgboost",
        "xgboost:XGBRegressor",
        MappingProxyType(
            {
                "n_estimators": 800,
                "learning_rate": 0.0125,
                "max_depth": 3,
                "min_child_weight": 4.0,
                "subsample": 0.55,
                "colsample_bytree": 0.45,
                "reg_lambda": 0.28,
                "tree_method": "hist",
                "n_jobs": 1,
                "random_state": SEED,
            }
        ),
    ),
    _LightGBM(
        "lightgbm",
        "lightgbm:LGBMRegressor",
        MappingProxyType(
            {
                "n_estimators": 400,
                "learning_rate": 0.0146,
                "num_leaves": 10,
                "min_child_samples": 8,
                "subsample": 0.72,
                "subsample_freq": 1,
                "colsample_bytree": 0.9,
                "reg_lambda": 0.35,
                "n_jobs": 1,
                "random_state": SEED,
                "verbose": -1,
            }
        ),
    ),
    _RandomForest(
        "random_forest",
        "sklearn.ensemble:RandomForestRegressor",
        MappingProxyType(
            {
                # few trees of bounded leaves: sklearn pays per tree on a one-row predict, and
                # 100 unbounded trees of depth 12 were barely better on the validation years
                "n_estimators": 40,
                "max_leaf_nodes": 256,
                "max_depth": 12,
                "min_samples_leaf": 5,
                "max_features": 0.4,
                "n_jobs": 1,
                "random_state": SEED,
            }
        ),
    ),
)
SPECS: Mapping[str, ModelSpec] = MappingProxyType({s.name: s for s in _SPECS})
CANDIDATES: tuple[str, ...] = tuple(SPECS)


def spec(name: str) -> ModelSpec:
    """The spec of candidate `name`; a clear error for any other name."""
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(CANDIDATES)}") from None


def spec_for(model: Any) -> ModelSpec | None:
    """The spec whose regressor `model` is, or None for a regressor no candidate owns."""
    return next((s for s in _SPECS if s.owns(model)), None)
