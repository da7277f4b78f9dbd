"""Where training rows come from, and which label scale they carry: never two scales in one model.

TMDB rows (live or a snapshot) are labelled with TMDB's `vote_average`; the offline OMDb sample
with IMDb ratings. Both read 0–10, but they are different crowds and different scales, so one
model learns from one of them only: TMDB rows whenever there are any, the sample only when
there is nothing else — and a model that learned from the sample is a `demo` model wherever it
is shown.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import pandas as pd

from moviescore.ingest.omdb_sample import SOURCE as SAMPLE_SOURCE
from moviescore.ingest.snapshot import SOURCE as SNAPSHOT_SOURCE

log = logging.getLogger(__name__)

TMDB_SCALE = "tmdb_vote_average"
SAMPLE_SCALE = "imdb_rating"
LABEL_SCALES = {"tmdb": TMDB_SCALE, SNAPSHOT_SOURCE: TMDB_SCALE, SAMPLE_SOURCE: SAMPLE_SCALE}
SCALE_COLUMN = "label_scale"


class OneScale(NamedTuple):
    movies: pd.DataFrame  # with a `label_scale` column derived from `source`
    scale: str | None  # None: no rows at all
    demo: bool  # learned from the offline sample
    excluded: dict[str, int]  # rows of another scale left out, per source


def label_scale(source: str) -> str:
    try:
        return LABEL_SCALES[source]
    except KeyError:
        raise ValueError(f"unknown source {source!r}: no label scale for it") from None


def one_scale(movies: pd.DataFrame) -> OneScale:
    """The rows of one label scale: TMDB's when any row has it, else the sample's."""
    scales = movies["source"].map(lambda s: label_scale(str(s)))
    movies = movies.assign(**{SCALE_COLUMN: scales})
    scale = TMDB_SCALE if (scales == TMDB_SCALE).any() else SAMPLE_SCALE if len(scales) else None
    keep = scales == scale
    excluded = movies.loc[~keep, "source"].value_counts().to_dict()
    if excluded:
        log.warning("left out rows of another label scale than %s: %s", scale, excluded)
    return OneScale(
        movies[keep].reset_index(drop=True),
        scale,
        scale == SAMPLE_SCALE,
        {str(k): int(v) for k, v in excluded.items()},
    )


def release_range(df: pd.DataFrame) -> list[str]:
    """[first, last] release date of a split (ISO), or [] for no rows."""
    dates = pd.to_datetime(df["release_date"], errors="coerce").dropna()
    return [] if dates.empty else [f"{dates.min():%Y-%m-%d}", f"{dates.max():%Y-%m-%d}"]


def source_counts(df: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in df["source"].value_counts().sort_index().items()}
