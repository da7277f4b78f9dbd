"""The promotion rule ("by RMSE gap"). Pure: numbers in, a decision with its reason out.

The challenger is the candidate with the lowest *validation* RMSE (the test set is not used to
choose). It replaces the champion when, on the same test set, its RMSE beats the RMSE of the
champion's *recipe* (fitted on the same train split, so neither saw the test rows) by at least
`min_improvement` and its overfit gap (test − train RMSE) stays under `max_gap` (both in
`PromotionPolicy`). With no champion — or one whose manifest could not be read or whose recipe
could not be fitted — it must beat the mean-rating baseline instead, under the same gap limit.
Before any of it, `precheck` keeps a run from replacing a champion trained for a later logical
date, and a demo model (offline sample) from replacing a TMDB one. The reason is written for an
operator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from moviescore.records import CandidateScore

if TYPE_CHECKING:
    from moviescore.config import Settings

C = TypeVar("C", bound=CandidateScore)

_EPS = 1e-9  # 0.809 − 0.804 is 0.00499999… in floats; an improvement of exactly the limit counts


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger_model: str | None = None
    challenger_test_rmse: float = math.nan
    challenger_rmse_gap: float = math.nan
    champion_test_rmse: float | None = None
    baseline_test_rmse: float = math.nan
    compared_with: str = "baseline"  # "champion" | "baseline"
    min_improvement: float = 0.0
    max_gap: float = math.inf
    champion_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionPolicy:
    """The thresholds of the rule; each one is a setting (config.py) read here only."""

    min_improvement: float
    max_gap: float

    @classmethod
    def from_settings(cls, settings: Settings) -> PromotionPolicy:
        return cls(min_improvement=settings.min_rmse_improvement, max_gap=settings.max_rmse_gap)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def pick_challenger(candidates: Sequence[C]) -> C:
    """The candidate with the lowest validation RMSE (ties: the first one)."""
    scored = [c for c in candidates if _finite(c.metrics.val_rmse)]
    if not scored:
        raise ValueError(f"no candidate has a finite val_rmse among {len(candidates)} candidates")
    return min(scored, key=lambda c: float(c.metrics.val_rmse or 0.0))


def precheck(
    run_ds: str, run_demo: bool, champion_ds: str | None, champion_demo: bool | None
) -> str | None:
    """Why this run must not replace the champion whatever its scores, or None.
    `champion_demo` is None when there is no champion."""
    if champion_ds is not None and run_ds < champion_ds:
        return (
            f"not promoted: this run's logical date {run_ds} is older than the champion's "
            f"training cutoff {champion_ds}; a backfill evaluates history, it never replaces "
            "the serving model (roll back explicitly to serve an older version)"
        )
    if run_demo and champion_demo is False:
        return (
            "not promoted: this run learned from the offline sample (IMDb ratings, a demo "
            "model) and the champion learned TMDB ratings"
        )
    return None


def decide(
    challenger: CandidateScore,
    champion_test_rmse: float | None,
    baseline_test_rmse: float,
    policy: PromotionPolicy,
    *,
    champion_error: str | None = None,
) -> Decision:
    metrics, name = challenger.metrics, challenger.model_name
    min_improvement, max_gap = policy.min_improvement, policy.max_gap
    who = f"challenger {name}" if name else "challenger"
    if metrics.test_rmse is None:
        raise ValueError(f"{who} metrics have no test_rmse: {sorted(metrics.dump())}")
    test = float(metrics.test_rmse)
    gap = metrics.rmse_gap
    if gap is None:
        gap = test - (metrics.train_rmse if metrics.train_rmse is not None else math.nan)
    numbers: dict[str, Any] = {
        "challenger_model": name or None,
        "challenger_test_rmse": test,
        "challenger_rmse_gap": gap,
        "champion_test_rmse": champion_test_rmse,
        "baseline_test_rmse": baseline_test_rmse,
        "min_improvement": min_improvement,
        "max_gap": max_gap,
        "champion_error": champion_error,
    }
    if not math.isfinite(test):
        reason = f"not promoted: {who} has no finite test RMSE ({test})"
        return Decision(False, reason, compared_with="none", **numbers)

    context = ""
    if champion_error is not None:
        context = f"champion unreadable ({champion_error}), compared with the baseline: "
    elif champion_test_rmse is not None and not math.isfinite(champion_test_rmse):
        context = "champion re-score is not a number, compared with the baseline: "
    elif champion_test_rmse is None:
        context = "no champion yet: "

    if context:
        compared_with = "baseline"
        better = test < baseline_test_rmse
        verdict = "beats" if better else "is not better than"
        ref = f"test RMSE {test:.3f} {verdict} the mean baseline {baseline_test_rmse:.3f}"
    else:
        assert champion_test_rmse is not None
        compared_with = "champion"
        improvement = champion_test_rmse - test
        better = improvement >= min_improvement - _EPS
        ref = (
            f"test RMSE {test:.3f} beats the champion's recipe {champion_test_rmse:.3f} by "
            f"{improvement:.3f} "
            f"(≥ {min_improvement:g})"
            if better
            else f"test RMSE {test:.3f} is not better than the champion's recipe "
            f"{champion_test_rmse:.3f} "
            f"by ≥ {min_improvement:g}"
        )

    gap_ok = gap < max_gap  # False for NaN
    gap_text = (
        f"rmse gap {gap:.3f} (test − train) is under {max_gap:g}"
        if gap_ok
        else f"overfits: rmse gap {gap:.3f} (test − train) is not under {max_gap:g}"
    )
    promote = better and gap_ok
    if promote:
        reason = f"promoted: {context}{who} {ref}; {gap_text}"
    else:
        failures = [text for ok, text in ((better, ref), (gap_ok, gap_text)) if not ok]
        reason = f"not promoted: {context}{who} " + "; ".join(failures)
    return Decision(promote, reason, compared_with=compared_with, **numbers)
