"""The promotion rule ("by RMSE gap"). Pure: numbers in, a decision with its reason out.

The challenger is the candidate with the lowest *validation* RMSE (the test set is not used to
choose). It replaces the champion when, on the same test set, its RMSE beats the champion's
re-scored RMSE by at least `min_improvement` and its overfit gap (test − train RMSE) stays under
`max_gap`. With no champion — or one whose bundle could not be read or re-scored — it must beat
the mean-rating baseline instead, under the same gap limit. The reason is written for an operator.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

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


def _metrics(candidate: dict[str, Any]) -> dict[str, Any]:
    """Accept a candidate record ({model_name, metrics, …}) or a bare metrics dict."""
    metrics = candidate.get("metrics", candidate)
    return metrics if isinstance(metrics, dict) else {}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def pick_challenger(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate with the lowest validation RMSE (ties: the first one)."""
    scored = [c for c in candidates if _finite(_metrics(c).get("val_rmse"))]
    if not scored:
        raise ValueError(f"no candidate has a finite val_rmse among {len(candidates)} candidates")
    return min(scored, key=lambda c: float(_metrics(c)["val_rmse"]))


def decide(
    challenger: dict[str, Any],
    champion_test_rmse: float | None,
    baseline_test_rmse: float,
    *,
    min_improvement: float,
    max_gap: float,
    champion_error: str | None = None,
) -> Decision:
    metrics = _metrics(challenger)
    name = str(challenger.get("model_name") or metrics.get("model_name") or "")
    who = f"challenger {name}" if name else "challenger"
    if "test_rmse" not in metrics:
        raise ValueError(f"{who} metrics have no test_rmse: {sorted(metrics)}")
    test = float(metrics["test_rmse"])
    gap = metrics.get("rmse_gap")
    gap = float(gap) if gap is not None else test - float(metrics.get("train_rmse", math.nan))
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
            f"test RMSE {test:.3f} beats champion {champion_test_rmse:.3f} by {improvement:.3f} "
            f"(≥ {min_improvement:g})"
            if better
            else f"test RMSE {test:.3f} is not better than champion {champion_test_rmse:.3f} "
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
