"""What the API says about each movie beyond its rating: interval, warnings and, on request,
the explanation and comparable films. One `Answers` per served model, built when it is loaded
(the forest's explainer and the comparables index are not free), then only read.

A bundle published before these existed still serves: its interval falls back to the test
RMSE, and an explanation comes without comparables, saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from moviescore.serving.calibration import Interval, fallback
from moviescore.serving.comparables import Comparables
from moviescore.serving.explain import Explainer
from moviescore.serving.ranges import Warner

if TYPE_CHECKING:
    from moviescore.registry.store import ModelBundle
    from moviescore.serving.scoring import Scorer

log = logging.getLogger(__name__)

NO_INTERVAL = (
    "This model was published without a calibrated interval: it is a normal approximation "
    "from the model's test RMSE."
)
NO_COMPARABLES = "This model was published without a comparables index: no similar films to show."
NO_EXPLANATION = "This model cannot be explained: it has no contributions method."


class Answers:
    def __init__(self, bundle: ModelBundle, scorer: Scorer) -> None:
        manifest = bundle.manifest
        self.scorer = scorer
        interval = Interval.from_manifest(manifest)
        self.interval = interval or fallback(manifest)
        self.model_notes = [] if interval else [NO_INTERVAL]  # said on every answer
        features = bundle.pipeline[0]
        known = getattr(features, "encodings_", {}).get("keywords", {})
        self.warner = Warner(manifest.training_ranges, known)
        files = getattr(bundle, "files", {})
        self.comparables: Comparables | None = None
        try:
            self.comparables = Comparables.from_files(files)
        except Exception as exc:  # a broken index costs the comparables, never the model
            log.warning("comparables of %s unusable: %s", bundle.version, exc)
        self.explainer: Explainer | None = None
        try:
            self.explainer = Explainer(bundle.pipeline)
        except Exception as exc:
            log.warning("%s cannot be explained: %s", bundle.version, exc)

    def extras(self, movie: Mapping[str, Any], rating: float) -> dict[str, Any]:
        """{interval, warnings} of one raw record and its (clamped) rating."""
        return {
            "interval": self.interval.around(rating),
            "warnings": self.model_notes + self.warner.warnings(movie),
        }

    def explain(self, movies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """{explanation, comparables, warnings to add} of each raw record."""
        notes = []
        explained: list[Any] = [None] * len(movies)
        if self.explainer is None:
            notes.append(NO_EXPLANATION)
        else:
            explained = self.explainer.explain(self.scorer.matrix(movies), movies)
        if self.comparables is None:
            notes.append(NO_COMPARABLES)
        return [
            {
                "explanation": explanation,
                "comparables": self.comparables.nearest(movie) if self.comparables else [],
                "warnings": notes,
            }
            for movie, explanation in zip(movies, explained, strict=True)
        ]
