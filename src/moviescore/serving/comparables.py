"""The labelled films a champion learned from, and the ones most like a new movie.

Published with the model bundle as its own file (`comparables.json.gz`, sha256-verified like
model.joblib): per film its title, release year, budget and real rating, and the pre-release
inputs similarity is computed on. Plain JSON, not a pickle: the server parses it with the
standard library, and its size is bounded (the MAX_FILMS newest films; the registry caps any
extra file too).

Similarity: Euclidean distance between standardised vectors of release year, log budget and
runtime (a missing value sits at the mean), genre indicators scaled so that a film's genres
weigh as much as one numeric input, and one for the original language.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from moviescore.ingest.raw_movie import LABEL

COMPARABLES_FILE = "comparables.json.gz"
FORMAT = 1
MAX_FILMS = 20_000
MAX_JSON_BYTES = 16 * 2**20  # refused before parsing beyond this (a gzip bomb too)
K = 5


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _names(value: Any) -> list[str]:
    if value is None or isinstance(value, float | str):
        return []
    return [str(v) for v in value]


def comparables_files(rows: pd.DataFrame) -> dict[str, bytes]:
    """{COMPARABLES_FILE: bytes} of labelled raw rows (the rows a model was fitted on)."""
    dates = pd.to_datetime(rows["release_date"], errors="coerce")
    keep = rows.assign(_date=dates).dropna(subset=["_date", LABEL])
    keep = keep.sort_values("_date").tail(MAX_FILMS)
    films = [
        [
            str(r["title"]),
            int(r["_date"].year),
            _number(r.get("budget")),
            round(float(r[LABEL]), 2),
            _number(r.get("runtime")),
            str(r.get("original_language") or ""),
            _names(r.get("genres")),
        ]
        for r in keep.to_dict("records")
    ]
    doc = {
        "format": FORMAT,
        "columns": ["title", "year", "budget", "rating", "runtime", "language", "genres"],
        "films": films,
    }
    return {COMPARABLES_FILE: gzip.compress(json.dumps(doc, separators=(",", ":")).encode())}


class Comparables:
    """A nearest-neighbour index over a bundle's comparables file."""

    def __init__(self, blob: bytes) -> None:
        raw = gzip.GzipFile(fileobj=io.BytesIO(blob)).read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise ValueError(f"{COMPARABLES_FILE} unpacks to more than {MAX_JSON_BYTES} bytes")
        doc = json.loads(raw)
        if doc.get("format") != FORMAT or not doc.get("films"):
            raise ValueError(f"{COMPARABLES_FILE}: unknown format or no films")
        self.films = doc["films"]
        numeric = np.array(
            [[f[1], math.log1p(f[2]) if f[2] else np.nan, f[4] or np.nan] for f in self.films],
            dtype=float,
        )
        self.mean = np.nanmean(numeric, axis=0)
        self.std = np.nanstd(numeric, axis=0)
        self.std[~(self.std > 0)] = 1.0
        self.genres = sorted({g for f in self.films for g in f[6]})
        self.languages = sorted({f[5] for f in self.films})
        self.vectors = np.vstack([self._vector(f[1], f[2], f[4], f[5], f[6]) for f in self.films])
        self.norms = np.einsum("ij,ij->i", self.vectors, self.vectors)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Comparables | None:
        blob = files.get(COMPARABLES_FILE)
        return None if blob is None else cls(blob)

    def _vector(
        self,
        year: float,
        budget: float | None,
        runtime: float | None,
        language: str,
        genres: Sequence[str],
    ) -> np.ndarray:
        raw = np.array([year, math.log1p(budget) if budget else np.nan, runtime or np.nan])
        numeric = np.nan_to_num((raw - self.mean) / self.std)  # unknown: at the mean
        chosen = set(genres)
        weight = 1.0 / math.sqrt(len(chosen)) if chosen else 0.0
        genre = [weight if g in chosen else 0.0 for g in self.genres]
        lang = [1.0 if code == language else 0.0 for code in self.languages]
        return np.concatenate([numeric, genre, lang])

    def nearest(self, movie: Mapping[str, Any], k: int = K) -> list[dict[str, Any]]:
        """The k films closest to a raw record, nearest first."""
        target = self._vector(
            int(str(movie.get("release_date"))[:4]),
            _number(movie.get("budget")),
            _number(movie.get("runtime")),
            str(movie.get("original_language") or ""),
            _names(movie.get("genres")),
        )
        # |v - t|^2 without the difference matrix: |v|^2 - 2 v.t (+ |t|^2, the same for all)
        distance = self.norms - 2.0 * (self.vectors @ target)
        k = min(k, len(self.films))
        best = np.argpartition(distance, k - 1)[:k]
        best = best[np.argsort(distance[best], kind="stable")]
        return [
            {
                "title": self.films[i][0],
                "release_year": self.films[i][1],
                "budget": self.films[i][2],
                "rating": self.films[i][3],
            }
            for i in best.tolist()
        ]
