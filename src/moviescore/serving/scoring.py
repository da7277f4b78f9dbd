"""Scoring raw movies with a fitted pipeline — the one prediction path of evaluation, batch
files and the API.

A `Scorer` is built once per loaded model, never per request. It runs the pipeline's feature
step, then the regressor's native booster: the same numbers as the sklearn wrapper without its
per-call checks, which cost more than one row's prediction (see docs/BENCHMARKS.md). The API
asks for `compiled=True`: the regressor then runs as a verified ONNX Runtime session
(`moviescore.serving.compiled`, faster still for every candidate), falling back to the native
booster with a warning when it cannot be compiled faithfully. Ratings are clamped to TMDB's 0-10
scale. /predict scores through `score_together`, whose model call is shared by the concurrent
requests ready at the same time (`moviescore.serving.coalesce`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from moviescore.serving.coalesce import Coalescer
from moviescore.training.features import sentiment
from moviescore.training.specs import spec_for

log = logging.getLogger(__name__)

RATING_RANGE = (0.0, 10.0)
SENTIMENT_FEATURES = ("overview_polarity", "overview_subjectivity")
# A movie with almost nothing known: every model must still answer it (see Scorer.check).
PROBE: dict[str, Any] = {"title": "probe", "release_date": "2020-01-01", "overview": ""}
Movies = pd.DataFrame | Sequence[Mapping[str, Any]]
Sentiment = tuple[float, float]  # (polarity, subjectivity)


def clamp(pred: Any) -> np.ndarray:
    # two ufuncs: np.clip's Python-level dispatch costs more than the clamp on one movie
    return np.minimum(np.maximum(np.asarray(pred, dtype=float), RATING_RANGE[0]), RATING_RANGE[1])


def native_predictor(regressor: Any) -> Callable[[np.ndarray], Any]:
    """`regressor.predict` on a feature matrix, through its spec's fastest call (the booster
    itself where there is one); a regressor no candidate owns keeps its own predict."""
    model_spec = spec_for(regressor)
    return regressor.predict if model_spec is None else model_spec.predictor(regressor)


class Scorer:
    """A fitted `features + regressor` Pipeline made cheap to call many times."""

    def __init__(self, pipeline: Pipeline, compiled: bool = False) -> None:
        self._transforms = [step.transform for _, step in pipeline.steps[:-1]]
        regressor = pipeline.steps[-1][1]
        self._predict = native_predictor(regressor)
        names = [str(n) for n in pipeline[:-1].get_feature_names_out()]
        self.evaluator = "native"  # what computes the trees: "native" or "onnxruntime"
        if compiled:
            try:
                # ONNX is a serving concern: only a scorer asked to compile loads it
                from moviescore.serving.compiled import compile_regressor

                self._predict = compile_regressor(regressor, len(names), self._predict)
                self.evaluator = "onnxruntime"
            except Exception as exc:  # any converter failure: slower, never wrong
                log.warning("scoring with the library's own predict: %s", exc)
        self.coalescer = Coalescer(self._predict)  # /predict's shared model calls
        has_sentiment = all(n in names for n in SENTIMENT_FEATURES)
        # The overview's sentiment is already in the matrix: read it, don't run TextBlob twice.
        self._sentiment_at = [names.index(n) for n in SENTIMENT_FEATURES] if has_sentiment else None

    def matrix(self, movies: Movies) -> np.ndarray:
        X: Any = movies
        for transform in self._transforms:
            X = transform(X)
        return np.asarray(X)

    def ratings(self, movies: Movies) -> np.ndarray:
        return clamp(self._predict(self.matrix(movies)))

    def score(self, movies: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[Sentiment]]:
        """Ratings and the overview's (polarity, subjectivity) of each movie, in one pass, as
        plain Python floats: what a JSON response is made of, without a numpy scalar per value."""
        X = self.matrix(movies)
        return self._scored(movies, X, self._predict(X))

    async def score_together(
        self, movies: Sequence[Mapping[str, Any]]
    ) -> tuple[list[float], list[Sentiment]]:
        """`score`, with the model call shared by the concurrent requests ready at the same
        time (`moviescore.serving.coalesce`): for the API's event loop."""
        X = self.matrix(movies)
        return self._scored(movies, X, await self.coalescer(X))

    def _scored(
        self, movies: Sequence[Mapping[str, Any]], X: np.ndarray, raw: Any
    ) -> tuple[list[float], list[Sentiment]]:
        low, high = RATING_RANGE
        # Clamped in Python, not by `clamp`: on the API's one movie numpy's two ufuncs cost ~8 µs
        # per request in process (interleaved A/B; docs/BENCHMARKS.md). NaN stays NaN either way.
        ratings = [min(max(r, low), high) for r in raw.tolist()]
        if self._sentiment_at is None:
            return ratings, [sentiment(m.get("overview")) for m in movies]
        polarity, subjectivity = self._sentiment_at
        return ratings, list(zip(X[:, polarity].tolist(), X[:, subjectivity].tolist(), strict=True))

    def check(self) -> None:
        """Fail now, not on the first request, if this model cannot score (e.g. a pickle whose
        feature step no longer matches its regressor)."""
        ratings, _ = self.score([PROBE])
        if len(ratings) != 1 or not np.isfinite(ratings).all():
            raise ValueError(f"model answered {ratings!r} for one probe movie")
