"""The prediction interval: split-conformal calibration on releases the model never trained on.

Training refits the candidate on train + val and scores the newest labelled releases (the test
split) once; their absolute residuals are the conformity scores. The interval of a movie is its
clamped prediction +- the conformal quantile q: with n calibration rows, the ceil((n+1)*level)-th
smallest score, which covers a new exchangeable release with probability >= level.

The width is the same for every movie. A width scaled by a per-movie difficulty (e.g. a budget
known or not) needs that estimate to rank errors well on the calibration years, or coverage
holds only on average while it breaks for exactly the movies the estimate gets wrong; the
plain interval keeps a guarantee that is easy to state. The forward folds of
docs/BENCHMARKS.md measure what it covers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from moviescore.records import Manifest
from moviescore.serving.scoring import RATING_RANGE

LEVEL = 0.8


def calibrate(y_true: Any, y_pred: Any, level: float = LEVEL) -> dict[str, Any]:
    """{method, level, q, n} from held-out truths and predictions."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    scores = np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float))
    scores = scores[np.isfinite(scores)]
    n = len(scores)
    if n == 0:
        raise ValueError("cannot calibrate an interval on no rows")
    rank = math.ceil((n + 1) * level)  # 1-based; beyond n the interval is unbounded
    q = float(np.sort(scores)[rank - 1]) if rank <= n else math.inf
    return {"method": "split_conformal_abs_residual", "level": level, "q": q, "n": n}


class Interval:
    """Turns predictions into {level, low, high}; built once per served model."""

    def __init__(self, calibration: Mapping[str, Any]) -> None:
        self.level = float(calibration["level"])
        self.q = float(calibration["q"])
        if not (0.0 < self.level < 1.0 and self.q >= 0.0):
            raise ValueError(f"bad calibration {dict(calibration)!r}")

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> Interval | None:
        """The manifest's calibration, or None for a bundle published before intervals."""
        calibration = manifest.calibration
        return cls(calibration) if isinstance(calibration, Mapping) else None

    def around(self, rating: float) -> dict[str, float]:
        low, high = RATING_RANGE
        return {
            "level": self.level,
            "low": round(max(rating - self.q, low), 2),
            "high": round(min(rating + self.q, high), 2),
        }

    def coverage(self, y_true: Any, y_pred: Any) -> float:
        """Share of truths inside their interval (what the benchmark reports)."""
        pred = np.asarray(y_pred, dtype=float)
        lo = np.maximum(pred - self.q, RATING_RANGE[0])
        hi = np.minimum(pred + self.q, RATING_RANGE[1])
        truth = np.asarray(y_true, dtype=float)
        return float(np.mean((truth >= lo) & (truth <= hi)))


NORMAL_80 = 1.2816  # the 0.9 quantile of a standard normal: +- it covers 80 %


def fallback(manifest: Manifest) -> Interval:
    """For a bundle published before calibration: +- 1.28 test RMSE (a normal approximation),
    or the whole rating scale when even that is missing."""
    rmse = manifest.metrics.test_rmse
    if rmse is None or not math.isfinite(rmse) or rmse < 0:
        return Interval({"level": LEVEL, "q": math.inf})
    return Interval({"level": LEVEL, "q": NORMAL_80 * rmse})
