"""Hyperparameters searched on the rolling folds' validation years (`moviescore tune`).

Not part of the daily run: a study takes minutes. Each fold's feature matrices are built once
(train rows out of fold, validation rows as served); a trial then only fits regressors. A trial's
score is the mean validation RMSE over the folds, so the test years of the backtest are never
read. Trials fit a fixed number of rounds (no early stopping: the validation years judge, they
do not steer), so `n_estimators` is searched with the learning rate; in the pipeline it becomes
the cap that early stopping works under. The study is written as JSON beside the defaults' score
on the same folds, so a change of defaults is read from one file.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from moviescore.ingest.raw_movie import LABEL
from moviescore.serving.scoring import clamp
from moviescore.storage import atomic_write
from moviescore.training.backtest import (
    N_ORIGINS,
    Fold,
    fold_splits,
    make_folds,
    release_years,
)
from moviescore.training.features import MovieFeatures
from moviescore.training.specs import spec

log = logging.getLogger(__name__)


@dataclass
class FoldMatrices:
    origin: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def fold_matrices(
    labelled: pd.DataFrame,
    folds: list[Fold],
    features: Callable[[], MovieFeatures] = MovieFeatures,
) -> list[FoldMatrices]:
    """Per fold, the train matrix (encodings out of fold) and the validation matrix."""
    out = []
    for fold in folds:
        train, val, _ = fold_splits(labelled, fold)
        y = train[LABEL].to_numpy(dtype=float)
        feats = features()
        X = feats.fit_transform(train, y)
        out.append(
            FoldMatrices(fold.origin, X, y, feats.transform(val), val[LABEL].to_numpy(dtype=float))
        )
    return out


def validation_rmse(name: str, params: dict[str, Any], matrices: list[FoldMatrices]) -> float:
    """Mean over folds of the validation RMSE of `name` with `params` (defaults elsewhere)."""
    rmses = []
    for m in matrices:
        model = spec(name).build(**params).fit(m.X_train, m.y_train)
        rmses.append(float(np.sqrt(np.mean((m.y_val - clamp(model.predict(m.X_val))) ** 2))))
    return float(np.mean(rmses))


def search_space(name: str, trial: optuna.Trial) -> dict[str, Any]:
    """The parameters a trial draws; bounded so one fit stays about as cheap as the default's."""
    if name == "random_forest":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 30, 80, step=10),
            "max_leaf_nodes": trial.suggest_categorical("max_leaf_nodes", [128, 256, 512]),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 20),
            "max_features": trial.suggest_float("max_features", 0.2, 0.7),
        }
    space = {
        "n_estimators": trial.suggest_int("n_estimators", 200, 1000, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.08, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.1, 30.0, log=True),
    }
    if name == "xgboost":
        space["max_depth"] = trial.suggest_int("max_depth", 2, 7)
        space["min_child_weight"] = trial.suggest_float("min_child_weight", 1.0, 30.0, log=True)
    else:
        space["num_leaves"] = trial.suggest_int("num_leaves", 4, 63, log=True)
        space["min_child_samples"] = trial.suggest_int("min_child_samples", 5, 80, log=True)
    return space


def tune(
    name: str,
    matrices: list[FoldMatrices],
    *,
    trials: int,
    timeout: float,
    seed: int = 0,
) -> dict[str, Any]:
    """A TPE study of `name` bounded by `trials` and `timeout` seconds; the record to store."""
    if not matrices:
        raise ValueError("no folds to tune on")
    default_space = {k: v for k, v in spec(name).params().items() if k != "n_jobs"}
    started = time.monotonic()
    baseline = validation_rmse(name, {}, matrices)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({k: v for k, v in default_space.items()}, skip_if_exists=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(
        lambda t: validation_rmse(name, search_space(name, t), matrices),
        n_trials=trials,
        timeout=timeout,
    )
    return {
        "model": name,
        "folds": [m.origin for m in matrices],
        "objective": "mean validation RMSE over the folds (fixed rounds, no early stopping)",
        "default_val_rmse": baseline,
        "best_val_rmse": float(study.best_value),
        "best_params": dict(study.best_params),
        "trials": [
            {"number": t.number, "value": t.value, "params": t.params}
            for t in study.trials
            if t.value is not None
        ],
        "seconds": time.monotonic() - started,
    }


def tune_to_file(
    name: str,
    labelled: pd.DataFrame,
    path: Path,
    *,
    trials: int,
    timeout: float,
    n_origins: int = N_ORIGINS,
) -> dict[str, Any]:
    """Tune `name` on the backtest's folds of `labelled`; the study is written to `path`."""
    spec(name)  # an unknown model fails here, before any work
    folds = make_folds(int(release_years(labelled).max()), n_origins=n_origins)
    record = tune(name, fold_matrices(labelled, folds), trials=trials, timeout=timeout)
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))
    log.info(
        "%s: %d trials, best %.4f (defaults %.4f) -> %s",
        name,
        len(record["trials"]),
        record["best_val_rmse"],
        record["default_val_rmse"],
        path,
    )
    return record
