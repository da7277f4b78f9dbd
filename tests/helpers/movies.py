"""Raw movie records for tests and benchmarks: one flat record, and a learnable synthetic set."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd

from moviescore.ingest.partitions import Splits
from moviescore.ingest.raw_movie import RAW_COLUMNS

GENRES = ["Drama", "Comedy", "Action", "Horror", "Documentary", "Science Fiction"]
GOOD_WORDS = ["moving", "brilliant", "beautiful", "honest"]
BAD_WORDS = ["dull", "terrible", "awful", "boring"]
# `named=True` films carry keywords (1-3 of their genre's) and one company: a vocabulary to suggest.
KEYWORDS = {
    "Drama": ["family", "based on novel", "grief"],
    "Comedy": ["friendship", "road trip", "wedding"],
    "Action": ["car chase", "heist", "revenge"],
    "Horror": ["haunted house", "slasher", "possession"],
    "Documentary": ["biography", "nature", "music"],
    "Science Fiction": ["astronaut", "space mission", "alien"],
}
COMPANIES = ["Warner Bros.", "Orbit Pictures", "Universal Pictures", "Warner Bros."]


def raw_movie(movie_id: int, released: str | None = None, **overrides: Any) -> dict[str, Any]:
    """One valid raw record as the snapshot source gives it; `overrides` replace any field."""
    record: dict[str, Any] = {
        "id": movie_id,
        "title": f"Film {movie_id}",
        "overview": "A film.",
        "release_date": released or f"2020-01-{1 + movie_id % 28:02d}",
        "original_language": "en",
        "runtime": 100.0,
        "budget": 1e6,
        "vote_average": 6.0,
        "vote_count": 100,
        "popularity": 3.0,
        "revenue": 0.0,
        "genres": ["Drama", "Comedy"],
        "keywords": ["k"],
        "production_companies": [],
        "production_countries": ["US"],
        "spoken_languages": ["en"],
        "source": "tmdb_snapshot",
    }
    return record | overrides


def learnable_records(
    n: int = 60, seed: int = 0, year: int | None = None, first_id: int = 0, named: bool = False
) -> tuple[list[dict[str, Any]], list[float]]:
    """Raw records and their ratings, which depend on runtime, genre and overview tone.

    Like real ones, but learnable from a few dozen rows: long films, documentaries and
    kind words rate higher. `year` fixes every release to that year (for forward splits).
    `named` gives them keywords and a company (KEYWORDS, COMPANIES; no other field changes).
    """
    rng = random.Random(seed)
    records, ratings = [], []
    for i in range(n):
        genre = rng.choice(GENRES)
        runtime = rng.uniform(80, 180)
        good = rng.random() < 0.5
        words = GOOD_WORDS if good else BAD_WORDS
        rec: dict[str, Any] = dict.fromkeys(RAW_COLUMNS)
        rec |= {
            "id": first_id + i,
            "title": f"Film {i}",
            "original_title": f"Film {i}",
            "overview": f"A {rng.choice(words)} story about {genre.lower()} "
            f"and {rng.choice(words)} people.",
            "release_date": f"{year or rng.randint(1990, 2013)}-{rng.randint(1, 12):02d}-15",
            "runtime": runtime,
            "budget": rng.choice([0, 1e6, 2e7, 1e8]),
            "original_language": rng.choice(["en", "en", "fr"]),
            "genres": [genre],
            "keywords": [],
            "production_companies": [],
            "production_countries": ["US"],
            "spoken_languages": ["en"],
        }
        if named:
            rec["keywords"] = KEYWORDS[genre][: 1 + i % 3]
            rec["production_companies"] = [COMPANIES[i % len(COMPANIES)]]
        rating = 5.0 + (runtime - 80) / 50 + (1.0 if good else -1.0) + (genre == "Documentary")
        records.append(rec)
        ratings.append(rating + rng.gauss(0, 0.2))
    return records, ratings


def learnable_frame(
    n: int = 60, seed: int = 0, year: int | None = None, first_id: int = 0
) -> pd.DataFrame:
    """`learnable_records` as a frame with the rating in `vote_average` and enough votes."""
    records, ratings = learnable_records(n, seed, year, first_id)
    frame = pd.DataFrame(records)
    frame["vote_average"] = [min(max(r, 0.0), 10.0) for r in ratings]
    frame["vote_count"] = 100
    return frame


def learnable_splits() -> Splits:
    """A forward split of learnable movies: 200 from 2005, 60 from 2010, 60 from 2012."""
    return Splits(
        learnable_frame(200, 1, 2005, first_id=10_000),
        learnable_frame(60, 2, 2010, first_id=20_000),
        learnable_frame(60, 3, 2012, first_id=30_000),
    )
