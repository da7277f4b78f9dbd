"""The rolling backtest: the quality yardstick, forward in time over several origins.

A fold with origin Y trains on releases up to Y - `val_years`, validates on the `val_years` years
up to Y (early stopping, the choice of the shipped model, the level offset) and tests on the
`horizon` years after Y. Every candidate goes through `candidates.train_candidate` as in the
pipeline: selected on validation, refitted on train + val, scored once on test. The seed recipe
and the mean are fitted the same way (validation from train, test from train + val), so every
model is scored on the same rows. The shipped model of a fold is the candidate with the lowest
validation RMSE (`promotion.pick_challenger`), as the pipeline would promote it.

Decisions (levers, defaults) are read on development folds only, whose test years all lie at or
before `dev_until`; the holdout folds' newer years are read once, at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moviescore.config import Settings, get_settings
from moviescore.ingest.partitions import Splits, label_filter, read_all_partitions, split_by_years
from moviescore.ingest.raw_movie import LABEL
from moviescore.ingest.snapshot import read_snapshot
from moviescore.records import CandidateScore, Metrics
from moviescore.serving.scoring import Scorer, clamp
from moviescore.training.candidates import refit, train_candidate
from moviescore.training.promotion import pick_challenger
from moviescore.training.seed_recipe import SeedRecipe
from moviescore.training.specs import CANDIDATES

log = logging.getLogger(__name__)

N_ORIGINS = 9  # on the shared data (releases up to 2013): origins 2003-2011
HOLDOUT_YEARS = 2  # the newest years, read once at the end; decisions look only before them
SHIPPED, OFFSET, SEED, MEAN = "shipped", "shipped + level offset", "seed recipe", "mean"


@dataclass(frozen=True)
class Fold:
    """Train on years <= train_until, validate on the years up to origin, test after it."""

    origin: int
    train_until: int
    test_until: int

    @property
    def val_years(self) -> tuple[int, ...]:
        return tuple(range(self.train_until + 1, self.origin + 1))

    @property
    def test_years(self) -> tuple[int, ...]:
        return tuple(range(self.origin + 1, self.test_until + 1))


def make_folds(
    last_year: int,
    origins: Iterable[int] | None = None,
    *,
    n_origins: int = N_ORIGINS,
    val_years: int = 2,
    horizon: int = 2,
) -> list[Fold]:
    """One fold per origin (default: the `n_origins` years up to last_year - 2); test years stop
    at `last_year`, the newest release year in the data."""
    if val_years < 1 or horizon < 1 or n_origins < 1:
        raise ValueError(
            f"need val_years, horizon, n_origins >= 1: {val_years, horizon, n_origins}"
        )
    if origins is None:
        origins = range(last_year - n_origins - 1, last_year - 1)
    folds = [Fold(y, y - val_years, min(y + horizon, last_year)) for y in sorted(set(origins))]
    if not folds or any(f.origin >= last_year for f in folds):
        raise ValueError(f"every origin needs a later test year (data ends in {last_year})")
    return folds


def release_years(df: pd.DataFrame) -> pd.Series:
    years = pd.to_datetime(df["release_date"], format="%Y-%m-%d", errors="coerce").dt.year
    if years.isna().any():
        raise ValueError(f"{int(years.isna().sum())} rows without a valid release_date")
    return years.astype(int)


def fold_splits(df: pd.DataFrame, fold: Fold) -> Splits:
    """The rows of one fold; every split must be non-empty (ValueError names the empty one)."""
    return split_by_years(df[release_years(df) <= fold.test_until], fold.train_until, fold.origin)


@dataclass
class BacktestResult:
    """Test predictions of every model (one row per fold x movie x model) and the validation
    scores the shipped model was chosen by."""

    folds: list[Fold]
    predictions: pd.DataFrame  # origin, id, release_year, model, y, pred
    validation: pd.DataFrame  # origin, model, val_rmse, val_bias (mean of y - pred), champion

    @property
    def dev_until(self) -> int:
        """The newest year a decision may look at: the holdout years come after it."""
        return max(f.test_until for f in self.folds) - HOLDOUT_YEARS

    def dev_origins(self) -> list[int]:
        return [f.origin for f in self.folds if f.test_until <= self.dev_until]


def _rows(origin: int, test: pd.DataFrame, model: str, pred: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": origin,
            "id": test["id"].to_numpy(),
            "release_year": release_years(test).to_numpy(),
            "model": model,
            "y": test[LABEL].to_numpy(dtype=float),
            "pred": np.asarray(pred, dtype=float),
        }
    )


def _val_row(origin: int, model: str, y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    error = y - pred
    rmse = float(np.sqrt(np.mean(error**2)))
    return {"origin": origin, "model": model, "val_rmse": rmse, "val_bias": float(error.mean())}


def _baselines(origin: int, splits: Splits) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
    """Seed recipe and mean: validation from train, test from train + val."""
    train, val, test = splits
    fit_rows = pd.concat([train, val], ignore_index=True)
    y_val = val[LABEL].to_numpy(dtype=float)
    seed_val = SeedRecipe().fit(train).predict(val)
    seed_test = SeedRecipe().fit(fit_rows).predict(test)
    mean_val = np.full(len(val), train[LABEL].mean())
    mean_test = np.full(len(test), fit_rows[LABEL].mean())
    frames = [_rows(origin, test, SEED, seed_test), _rows(origin, test, MEAN, mean_test)]
    vals = [_val_row(origin, SEED, y_val, seed_val), _val_row(origin, MEAN, y_val, mean_val)]
    return frames, vals


def run_fold(
    fold: Fold, splits: Splits, candidates: Iterable[str] = CANDIDATES
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test predictions and validation scores of every model on one fold."""
    frames, vals = _baselines(fold.origin, splits)
    y_val = splits.val[LABEL].to_numpy(dtype=float)
    fitted = {}
    for name in candidates:
        result = train_candidate(name, splits)
        fitted[name] = result
        assert result.val_pred is not None
        frames.append(_rows(fold.origin, splits.test, name, result.test_pred))
        vals.append(_val_row(fold.origin, name, y_val, result.val_pred))
    scored = [CandidateScore(model_name=n, metrics=Metrics(**r.metrics)) for n, r in fitted.items()]
    champion = pick_challenger(scored).model_name
    best = fitted[champion]
    assert best.val_pred is not None
    # as the pipeline ships it: the winning recipe refitted with its rounds on every row before
    # the test years (the candidates' own rows are the judged fits, on train only)
    rows = pd.concat([splits.train, splits.val], ignore_index=True)
    shipped, _ = refit(champion, best.params, rows, len(splits.train))
    shipped_pred = Scorer(shipped).ratings(splits.test)
    frames.append(_rows(fold.origin, splits.test, SHIPPED, shipped_pred))
    vals.append(_val_row(fold.origin, SHIPPED, y_val, best.val_pred))
    # Level-shift lever: the shipped model's mean validation error, added to its test ratings.
    shift = float(np.mean(y_val - best.val_pred))
    frames.append(_rows(fold.origin, splits.test, OFFSET, clamp(shipped_pred + shift)))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(vals).assign(champion=champion)


def run_backtest(
    labelled: pd.DataFrame,
    folds: list[Fold] | None = None,
    candidates: Iterable[str] = CANDIDATES,
    on_fold: Callable[[Fold, pd.DataFrame], None] | None = None,
    n_origins: int = N_ORIGINS,
) -> BacktestResult:
    """Every fold (default: the newest `n_origins`), one after another (each fit
    single-threaded), on labelled rows."""
    if folds is None:
        folds = make_folds(int(release_years(labelled).max()), n_origins=n_origins)
    names = tuple(candidates)
    preds, vals = [], []
    for fold in folds:
        fold_pred, fold_val = run_fold(fold, fold_splits(labelled, fold), names)
        log.info("fold %d: %d test rows", fold.origin, fold_pred["id"].nunique())
        preds.append(fold_pred)
        vals.append(fold_val)
        if on_fold is not None:
            on_fold(fold, fold_pred)
    return BacktestResult(folds, pd.concat(preds, ignore_index=True), pd.concat(vals))


def _errors(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    err = df.assign(error=df["y"] - df["pred"], sq=(df["y"] - df["pred"]) ** 2)
    out = err.groupby(keys, sort=True).agg(
        n=("error", "size"), mse=("sq", "mean"), bias=("error", "mean")
    )
    out["rmse"] = np.sqrt(out.pop("mse"))
    return out[["n", "rmse", "bias"]].reset_index()


def per_fold(result: BacktestResult) -> pd.DataFrame:
    """Test RMSE and bias (mean of truth - prediction) per fold and model, validation beside."""
    test = _errors(result.predictions, ["origin", "model"])
    return test.merge(result.validation, on=["origin", "model"], how="left")


def per_year(result: BacktestResult) -> pd.DataFrame:
    """RMSE and bias per release year and model, pooled over the folds that test that year."""
    return _errors(result.predictions, ["release_year", "model"])


def averages(result: BacktestResult, origins: Iterable[int] | None = None) -> dict[str, float]:
    """Mean over folds (all, or `origins`) of each model's test RMSE."""
    folds = per_fold(result)
    if origins is not None:
        folds = folds[folds["origin"].isin(list(origins))]
    return {str(k): float(v) for k, v in folds.groupby("model")["rmse"].mean().items()}


def ratio_to_seed(avg: dict[str, float], model: str = SHIPPED) -> float:
    return avg[model] / avg[SEED]


def summary(result: BacktestResult) -> dict[str, Any]:
    """Everything a report shows, JSON-ready: averages (all folds, development, holdout), the
    headline ratio of the shipped model to the seed recipe, per fold and per year."""
    dev = result.dev_origins()
    holdout = [f.origin for f in result.folds if f.origin not in dev]
    avg = averages(result)
    avg_dev = averages(result, dev)
    return {
        "folds": [
            {"origin": f.origin, "val_years": f.val_years, "test_years": f.test_years}
            for f in result.folds
        ],
        "dev_origins": dev,
        "holdout_origins": holdout,
        "average": avg,
        "average_dev": avg_dev,
        "average_holdout": averages(result, holdout) if holdout else {},
        "ratio": ratio_to_seed(avg),
        "ratio_dev": ratio_to_seed(avg_dev) if dev else float("nan"),
        "per_fold": per_fold(result).to_dict("records"),
        "per_year": per_year(result).to_dict("records"),
    }


def labelled_movies(snapshot: Path | None, settings: Settings | None = None) -> pd.DataFrame:
    """The labelled rows a backtest runs on: a snapshot file's, or every collected partition's."""
    settings = settings or get_settings()
    movies = read_snapshot(snapshot) if snapshot else read_all_partitions(settings)
    return label_filter(movies, settings.min_vote_count)
