"""Fit and evaluate one candidate on a time-based split; the mean-rating baseline beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline

from moviescore.ingest.partitions import SPLITS, Splits
from moviescore.ingest.raw_movie import LABEL
from moviescore.serving.calibration import calibrate
from moviescore.serving.ranges import training_ranges
from moviescore.serving.scoring import Scorer, clamp
from moviescore.training.features import MovieFeatures, make_pipeline
from moviescore.training.specs import ModelSpec, spec


@dataclass
class CandidateResult:
    model_name: str
    pipeline: Pipeline
    params: dict[str, Any]
    metrics: dict[str, float]
    feature_importances: dict[str, float]
    test_true: np.ndarray
    test_pred: np.ndarray
    # train/val RMSE per round of the model selected on the validation years (W&B plots it)
    learning_curve: dict[str, list[float]] = field(default_factory=dict)
    # the validation years' predictions of the model fitted on train only (the backtest's bias)
    val_pred: np.ndarray | None = None
    # the interval's conformal calibration on the test rows, and what the model was fitted on
    calibration: dict[str, Any] | None = None
    training_ranges: dict[str, Any] | None = None


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """rmse, mae, r2 of predictions against the truth (every evaluation in the project)."""
    if len(y_true) == 0:
        raise ValueError("cannot evaluate on an empty split")
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        # R² is undefined on one row; NaN keeps the key without a warning
        "r2": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
    }


def evaluate(pipeline: Pipeline, df: pd.DataFrame) -> dict[str, float]:
    """rmse, mae, r2 of a fitted pipeline on raw rows that carry the label."""
    return scores(df[LABEL].to_numpy(dtype=float), Scorer(pipeline).ratings(df))


def _split_metrics(per_split: dict[str, dict[str, float]]) -> dict[str, float]:
    metrics = {f"{split}_{k}": v for split, values in per_split.items() for k, v in values.items()}
    metrics["rmse_gap"] = metrics["test_rmse"] - metrics["train_rmse"]
    return metrics


def baseline_metrics(splits: Splits) -> dict[str, float]:
    """The mean training rating predicted for every movie: what any model has to beat."""
    mean = float(splits.train[LABEL].mean())
    per_split = {}
    for name in SPLITS:
        y = getattr(splits, name)[LABEL].to_numpy(dtype=float)
        per_split[name] = scores(y, np.full(len(y), mean))
    return _split_metrics(per_split)


def _fit(
    model_spec: ModelSpec, df: pd.DataFrame, val: pd.DataFrame | None = None, **params: Any
) -> tuple[Pipeline, np.ndarray | None]:
    """Features fitted on `df` (each matrix built once); boosters stop early on `val`.

    Returns the assembled pipeline and, when `val` is given, its clamped predictions there.
    """
    y = df[LABEL].to_numpy(dtype=float)
    features = MovieFeatures()
    X = features.fit_transform(df, y)
    model = model_spec.build(**params)
    if val is None:
        model.fit(X, y)
        return make_pipeline(model, features=features), None
    X_val = features.transform(val)
    model_spec.fit(model, X, y, X_val, val[LABEL].to_numpy(dtype=float))
    return make_pipeline(model, features=features), clamp(model.predict(X_val))


def train_candidate(name: str, splits: Splits) -> CandidateResult:
    """Select on the validation years, then refit on train + val and score the test years.

    1. Fit on train (boosters stop early on val): that model gives the honest `val_*` metrics
       and the number of boosting rounds.
    2. Refit on train + val with the rounds scaled to the larger set: the served model then
       knows the most recent releases (on validation years this cut RMSE by ~0.02).
       `train_*` are that model's scores on the rows it was fitted on; `test_*` are its scores
       on the untouched test years.
    Each feature matrix is computed once and handed to the regressor directly.
    """
    model_spec = spec(name)  # an unknown name fails before any work
    for split in SPLITS:
        if len(getattr(splits, split)) == 0:
            raise ValueError(f"split {split!r} is empty; cannot train {name}")
    selected, val_pred = _fit(model_spec, splits.train, splits.val)
    assert val_pred is not None
    val_scores = scores(splits.val[LABEL].to_numpy(dtype=float), val_pred)
    params = model_spec.params()
    best = model_spec.best_iteration(selected[-1])
    if best is not None:
        scale = (len(splits.train) + len(splits.val)) / len(splits.train)
        params["best_iteration"] = best
        params["n_estimators"] = max(1, round((best + 1) * scale))
    refit_params = {"n_estimators": params["n_estimators"]} if best is not None else {}
    fit_rows = pd.concat([splits.train, splits.val], ignore_index=True)
    pipeline, _ = _fit(model_spec, fit_rows, **refit_params)
    features, model = pipeline[0], pipeline[-1]
    scorer = Scorer(pipeline)  # the prediction path evaluation and serving share

    test_true = splits.test[LABEL].to_numpy(dtype=float)
    test_pred = scorer.ratings(splits.test)
    fit_true = fit_rows[LABEL].to_numpy(dtype=float)
    per_split = {
        # in-sample features, as the served pipeline sees these rows (not the out-of-fold ones)
        "train": scores(fit_true, scorer.ratings(fit_rows)),
        "val": val_scores,
        "test": scores(test_true, test_pred),
    }
    names = [str(n) for n in features.get_feature_names_out()]
    importances = getattr(model, "feature_importances_", np.zeros(len(names)))
    total = float(np.sum(importances)) or 1.0  # LightGBM counts splits; normalise to shares
    return CandidateResult(
        model_name=name,
        pipeline=pipeline,
        params=params,
        metrics=_split_metrics(per_split),
        feature_importances={n: float(v) / total for n, v in zip(names, importances, strict=True)},
        test_true=test_true,
        test_pred=test_pred,
        learning_curve=model_spec.learning_curve(selected[-1]),
        val_pred=val_pred,
        calibration=calibrate(test_true, test_pred),
        training_ranges=training_ranges(fit_rows),
    )
