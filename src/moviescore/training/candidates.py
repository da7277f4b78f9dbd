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


RECIPE_ONLY = ("best_iteration", "refit_rounds")  # what a fit adds to a recipe's parameters
# The refit has seen the test rows: a correct one scores there no worse than the split model did
# unseen (slack for the noise of a refit), and moves its predictions there by less than a rating
# point (RMS) — it learns those rows, it does not become another model; a broken one (lost
# rounds or features, wrong rows, a constant) fails one of the two (docs/BENCHMARKS.md).
REFIT_RMSE_SLACK = 0.05
REFIT_MAX_DRIFT = 1.0


def recipe_of(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A recipe's parameters from a manifest's or a candidate's: what a fit added left out, and
    a booster's round cap back to the spec's (a stored n_estimators may be a refit's rounds)."""
    model_spec = spec(name)
    recipe = {k: v for k, v in params.items() if k not in RECIPE_ONLY}
    if "best_iteration" in params and "n_estimators" in model_spec.defaults:
        recipe["n_estimators"] = model_spec.defaults["n_estimators"]
    return recipe


def train_candidate(
    name: str, splits: Splits, params: dict[str, Any] | None = None
) -> CandidateResult:
    """Judge one recipe: fit on the train split (boosters stop early on val), score every split.

    `test_*` are held-out scores (no row of the test split was seen), `train_*` in-sample ones,
    so `rmse_gap` is the overfit gap. `params` (default: the spec's) may come from a champion's
    manifest (`recipe_of`). The returned params add `best_iteration` for boosters: `ship`
    refits the recipe with those rounds. Each feature matrix is computed once.
    """
    model_spec = spec(name)  # an unknown name fails before any work
    for split in SPLITS:
        if len(getattr(splits, split)) == 0:
            raise ValueError(f"split {split!r} is empty; cannot train {name}")
    recipe = model_spec.params(**(params or {}))
    pipeline, val_pred = _fit(model_spec, splits.train, splits.val, **recipe)
    assert val_pred is not None
    best = model_spec.best_iteration(pipeline[-1])
    if best is not None:
        recipe["best_iteration"] = best
    features, model = pipeline[0], pipeline[-1]
    scorer = Scorer(pipeline)  # the prediction path evaluation and serving share
    test_true = splits.test[LABEL].to_numpy(dtype=float)
    test_pred = scorer.ratings(splits.test)
    per_split = {
        "train": scores(splits.train[LABEL].to_numpy(dtype=float), scorer.ratings(splits.train)),
        "val": scores(splits.val[LABEL].to_numpy(dtype=float), val_pred),
        "test": scores(test_true, test_pred),
    }
    names = [str(n) for n in features.get_feature_names_out()]
    importances = getattr(model, "feature_importances_", np.zeros(len(names)))
    total = float(np.sum(importances)) or 1.0  # LightGBM counts splits; normalise to shares
    return CandidateResult(
        model_name=name,
        pipeline=pipeline,
        params=recipe,
        metrics=_split_metrics(per_split),
        feature_importances={n: float(v) / total for n, v in zip(names, importances, strict=True)},
        test_true=test_true,
        test_pred=test_pred,
        learning_curve=model_spec.learning_curve(pipeline[-1]),
        val_pred=val_pred,
        calibration=calibrate(test_true, test_pred),  # held out: the split model never saw them
        training_ranges=training_ranges(splits.train),
    )


def refit(
    name: str, params: dict[str, Any], rows: pd.DataFrame, judged_rows: int
) -> tuple[Pipeline, dict[str, Any]]:
    """Recipe `name`/`params` fitted on `rows` with the rounds early stopping chose on a train
    split of `judged_rows` rows, scaled to `len(rows)`; the pipeline and its params (the recipe
    + `best_iteration` + `refit_rounds`)."""
    recipe = recipe_of(name, params)
    fitted = dict(params)
    best = params.get("best_iteration")
    if best is not None:
        rounds = max(1, round((int(best) + 1) * len(rows) / judged_rows))
        recipe["n_estimators"] = fitted["refit_rounds"] = rounds
    pipeline, _ = _fit(spec(name), rows, **recipe)
    return pipeline, fitted


@dataclass
class Shipped:
    """A judged recipe refitted on every labelled row: what the registry publishes."""

    pipeline: Pipeline
    params: dict[str, Any]  # the recipe + best_iteration + refit_rounds
    rows: int
    check: dict[str, Any]  # the sanity check against the split model on the test rows
    # what the API answers besides the rating: the interval calibrated on the judged model's
    # held-out test residuals (the refit saw those rows), the ranges and films it learned from
    calibration: dict[str, Any]
    training_ranges: dict[str, Any]
    fitted_rows: pd.DataFrame


def ship(name: str, params: dict[str, Any], splits: Splits, split_model: Pipeline) -> Shipped:
    """Refit recipe `name`/`params` (a judged candidate's) on train + val + test with the rounds
    early stopping chose, scaled to the larger row count. `RefitError` unless, on the test
    rows, it scores within `REFIT_RMSE_SLACK` of `split_model`'s held-out RMSE (or better) and
    its predictions stay within `REFIT_MAX_DRIFT` (RMS) of `split_model`'s."""
    rows = pd.concat([splits.train, splits.val, splits.test], ignore_index=True)
    pipeline, shipped = refit(name, params, rows, len(splits.train))
    refit_pred = Scorer(pipeline).ratings(splits.test)
    split_pred = Scorer(split_model).ratings(splits.test)
    truth = splits.test[LABEL].to_numpy(dtype=float)
    refit_rmse, judged_rmse = (scores(truth, p)["rmse"] for p in (refit_pred, split_pred))
    drift = float(np.sqrt(np.mean((refit_pred - split_pred) ** 2)))
    check = {
        "test_rows": len(splits.test),
        "refit_test_rmse": refit_rmse,
        "judged_test_rmse": judged_rmse,
        "rms_drift": drift,
        "max_drift": REFIT_MAX_DRIFT,
        "rmse_slack": REFIT_RMSE_SLACK,
    }
    worse = not refit_rmse <= judged_rmse + REFIT_RMSE_SLACK  # NaN fails too
    if worse or not drift <= REFIT_MAX_DRIFT:
        raise RefitError(
            f"the refit of {name} on {len(rows)} rows fails its check on the test rows: RMSE "
            f"{refit_rmse:.3f} vs {judged_rmse:.3f} judged (slack {REFIT_RMSE_SLACK}), "
            f"drift {drift:.3f} RMS (bound {REFIT_MAX_DRIFT}): not shipped"
        )
    return Shipped(
        pipeline,
        shipped,
        len(rows),
        check,
        calibration=calibrate(truth, split_pred),
        training_ranges=training_ranges(rows),
        fitted_rows=rows,
    )


class RefitError(RuntimeError):
    """The refit of a winning recipe failed its sanity check."""
