"""The raw movie record: the one shape every source produces and every later stage reads.

Field names follow TMDB's `/movie/{id}` response (with `keywords` appended), flattened so that a
record is a plain row: nested lists of `{"id", "name"}` objects become lists of names (countries
and spoken languages become ISO codes). The appended `credits` become three short lists of the
names that matter before release: directors, writers and the top-billed cast. Serving receives
the same shape from users, minus the post-release fields.
"""

from __future__ import annotations

from typing import TypedDict

import pyarrow as pa


class RawMovie(TypedDict, total=False):
    id: int  # TMDB id (sample data: a stable id derived from its own key)
    title: str
    original_title: str | None
    overview: str | None
    tagline: str | None
    release_date: str | None  # ISO date, YYYY-MM-DD
    runtime: float | None  # minutes; None or 0 = unknown
    budget: float | None  # USD; 0 = unknown (TMDB's convention)
    original_language: str | None  # ISO 639-1
    genres: list[str]
    keywords: list[str]
    production_companies: list[str]
    production_countries: list[str]  # ISO 3166-1
    spoken_languages: list[str]  # ISO 639-1
    homepage: str | None
    status: str | None
    # Who made it (credits appended); None = the source has no credits (unknown, not "none")
    directors: list[str] | None
    writers: list[str] | None
    cast: list[str] | None  # the top-billed few, in billing order
    # Post-release: the label and its evidence. Never features.
    vote_average: float | None
    vote_count: int | None
    popularity: float | None
    revenue: float | None
    # Provenance
    source: str  # "tmdb" | "tmdb_snapshot" | "omdb_sample"


CREDIT_FIELDS = ("directors", "writers", "cast")
LIST_FIELDS = (
    "genres",
    "keywords",
    "production_companies",
    "production_countries",
    "spoken_languages",
    *CREDIT_FIELDS,
)
TEXT_FIELDS = (
    "title",
    "original_title",
    "overview",
    "tagline",
    "release_date",
    "original_language",
    "homepage",
    "status",
    "source",
)
FLOAT_FIELDS = ("runtime", "budget", "vote_average", "popularity", "revenue")
INT_FIELDS = ("id", "vote_count")
POST_RELEASE_FIELDS = ("vote_average", "vote_count", "popularity", "revenue")
LABEL = "vote_average"

# Parquet schema of a raw partition: explicit, so an all-null column never changes type.
RAW_ARROW_SCHEMA = pa.schema(
    [pa.field("id", pa.int64(), nullable=False)]
    + [pa.field(name, pa.string()) for name in TEXT_FIELDS]
    + [pa.field(name, pa.float64()) for name in FLOAT_FIELDS]
    + [pa.field("vote_count", pa.int64())]
    + [pa.field(name, pa.list_(pa.string())) for name in LIST_FIELDS]
)
RAW_COLUMNS: tuple[str, ...] = tuple(RAW_ARROW_SCHEMA.names)  # one order for frames and files
