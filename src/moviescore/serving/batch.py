"""Batch prediction: every movie of a snapshot file → `id,predicted_rating` CSV.

Rows are validated as collection validates them: the good rows are predicted, every bad one
(unreadable line, no title, no or impossible release date, …) is written with its reasons to
`<output>.rejected.csv` beside the output, and the caller learns how many there were.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from moviescore.config import Settings, get_settings

log = logging.getLogger(__name__)


class BatchResult(NamedTuple):
    predicted: int
    rejected: int
    rejected_path: Path | None  # None (and no file) when every row was predicted


def rejected_path_for(output_path: Path) -> Path:
    return output_path.with_name(f"{output_path.stem}.rejected.csv")


def predict_file(
    input_path: Path, output_path: Path, version: str = "champion", settings: Settings | None = None
) -> BatchResult:
    """Predict the valid rows with a registry version (default: the champion)."""
    from moviescore.ingest.sources import read_snapshot
    from moviescore.ingest.validate import validate_raw, write_rejected_rows
    from moviescore.registry.store import Registry
    from moviescore.serving.scoring import Scorer
    from moviescore.storage import atomic_write

    settings = settings or get_settings()
    report = validate_raw(read_snapshot(input_path), max_rejected_share=1.0)  # never refuse all
    registry = Registry.from_settings(settings)
    if version == "champion":
        pointer = registry.champion()
        if pointer is None:
            raise LookupError("the registry has no champion yet: run `moviescore pipeline` first")
        version = pointer.version
    bundle = registry.load(version)
    movies = report.valid
    ratings = Scorer(bundle.pipeline).ratings(movies) if len(movies) else np.empty(0)
    out = pd.DataFrame({"id": movies["id"].to_numpy(), "predicted_rating": ratings.round(3)})
    atomic_write(output_path, lambda tmp: out.to_csv(tmp, index=False))
    rejected = write_rejected_rows(report, rejected_path_for(output_path))
    log.info("predicted %d movies with %s; %d rejected", len(out), version, len(report.rejected))
    return BatchResult(len(out), len(report.rejected), rejected)
