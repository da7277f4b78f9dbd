"""Batch prediction: every movie of a snapshot file → `id,predicted_rating` CSV."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from moviescore.config import Settings, get_settings

log = logging.getLogger(__name__)


def predict_file(
    input_path: Path, output_path: Path, version: str = "champion", settings: Settings | None = None
) -> int:
    """Predict with a registry version (default: the champion); returns the number of rows."""
    from moviescore.ingest.sources import read_snapshot
    from moviescore.registry.store import Registry
    from moviescore.serving.scoring import Scorer
    from moviescore.storage import atomic_write

    settings = settings or get_settings()
    movies = read_snapshot(input_path)
    registry = Registry.from_settings(settings)
    if version == "champion":
        pointer = registry.champion()
        if pointer is None:
            raise LookupError("the registry has no champion yet: run `moviescore pipeline` first")
        version = pointer.version
    bundle = registry.load(version)
    ratings = Scorer(bundle.pipeline).ratings(movies)
    out = pd.DataFrame({"id": movies["id"], "predicted_rating": ratings.round(3)})
    atomic_write(output_path, lambda tmp: out.to_csv(tmp, index=False))
    log.info("predicted %d movies with %s", len(out), version)
    return len(out)
