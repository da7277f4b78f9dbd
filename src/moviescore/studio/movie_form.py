"""What the Predict page sends: the form's choices, its values as a /predict body, and the
what-if batch that varies one of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date
from functools import cache
from typing import Any

import pandas as pd

# TMDB's movie genre list (GET /genre/movie/list), the names the model learned from.
TMDB_GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction", "TV Movie",
    "Thriller", "War", "Western",
)  # fmt: skip
MIN_DATE, MAX_DATE = date(1870, 1, 1), date(2100, 12, 31)
WHAT_IF = ("budget", "runtime", "release date")
BUDGET_GRID_MUSD = (0.5, 1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300)
RUNTIME_GRID = tuple(range(70, 201, 10))
YEARS_BEFORE, YEARS_AFTER = 10, 5


@cache
def languages() -> dict[str, str]:
    """ISO 639-1 code -> English name, most spoken in films first then by name."""
    from babel import Locale

    names = {k: v for k, v in Locale("en").languages.items() if len(k) == 2 and k.isalpha()}
    first = ("en", "fr", "es", "de", "it", "ja", "ko", "zh", "hi", "ru", "pt")
    rest = sorted((k for k in names if k not in first), key=lambda k: names[k])
    return {k: names[k] for k in (*first, *rest)}


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name, by name."""
    from babel import Locale

    names = {k: v for k, v in Locale("en").territories.items() if len(k) == 2 and k.isalpha()}
    return dict(sorted(names.items(), key=lambda kv: kv[1]))


def split_names(names: str | Iterable[str]) -> list[str]:
    """'a, b,, c ' -> ['a', 'b', 'c']: comma-separated free text (the fallback field) or the
    picker's list, stripped, blanks and duplicates dropped."""
    seen: dict[str, None] = {}
    for part in names.split(",") if isinstance(names, str) else names:
        if name := part.strip():
            seen.setdefault(name, None)
    return list(seen)


def build_payload(
    *,
    title: str,
    overview: str,
    genres: Sequence[str],
    language: str,
    runtime: float,
    budget_musd: float,
    release_date: date,
    tagline: str = "",
    keywords: str | Sequence[str] = "",
    no_keywords: bool = False,
    companies: str | Sequence[str] = "",
    countries: Sequence[str] = (),
    spoken_languages: Sequence[str] = (),
    homepage: str = "",
) -> dict[str, Any]:
    """The /predict body for the form's values. Keywords and companies are the picker's list or
    the fallback's comma-separated text. Budget is entered in millions of USD; 0 runtime
    or budget means unknown, as in TMDB. Keywords left blank are unknown (left out), unless the
    producer says the film has none (an empty list), because the model reads the two apart."""
    body: dict[str, Any] = {
        "title": title.strip(),
        "overview": overview.strip(),
        "tagline": tagline.strip() or None,
        "genres": list(genres),
        "original_language": language,
        "runtime": runtime or None,
        "budget": budget_musd * 1_000_000 if budget_musd else None,
        "release_date": release_date.isoformat(),
        "production_companies": split_names(companies),
        "production_countries": list(countries),
        "spoken_languages": list(spoken_languages),
        "homepage": homepage.strip() or None,
    }
    words = split_names(keywords)
    if words or no_keywords:
        body["keywords"] = words
    return body


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def what_if_values(payload: dict[str, Any], dimension: str) -> list[Any]:
    """The values `dimension` takes in the what-if, the movie's own value among them."""
    if dimension == "budget":
        own = (payload.get("budget") or 0) / 1_000_000
        grid: Iterable[Any] = {*BUDGET_GRID_MUSD, *([own] if own else [])}
        return sorted(grid)
    if dimension == "runtime":
        own = payload.get("runtime")
        return sorted({*RUNTIME_GRID, *([own] if own else [])})
    if dimension == "release date":
        day = date.fromisoformat(payload["release_date"])
        shifted = (_shift_years(day, n) for n in range(-YEARS_BEFORE, YEARS_AFTER + 1))
        return [d for d in shifted if MIN_DATE <= d <= MAX_DATE]
    raise ValueError(f"no what-if for {dimension!r}; choose one of {', '.join(WHAT_IF)}")


def what_if_batch(payload: dict[str, Any], dimension: str) -> tuple[list[Any], dict[str, Any]]:
    """(values, /predict/batch body): the movie once per value, everything else unchanged."""
    values = what_if_values(payload, dimension)
    movies = []
    for value in values:
        movie = dict(payload)
        if dimension == "budget":
            movie["budget"] = value * 1_000_000
        elif dimension == "runtime":
            movie["runtime"] = value
        else:
            movie["release_date"] = value.isoformat()
        movies.append(movie)
    return values, {"movies": movies}


def what_if_frame(dimension: str, values: Sequence[Any], answer: dict[str, Any]) -> pd.DataFrame:
    """One row per value: the rating and, when the API gives one, its interval."""
    rows = []
    for value, item in zip(values, answer.get("predictions", []), strict=False):
        interval = item.get("interval") or {}
        rows.append(
            {
                dimension: pd.Timestamp(value) if isinstance(value, date) else value,
                "rating": item.get("predicted_rating"),
                "low": interval.get("low", math.nan),
                "high": interval.get("high", math.nan),
            }
        )
    return pd.DataFrame(rows, columns=[dimension, "rating", "low", "high"])


def shown(name: str, value: Any) -> str:
    """One body field as a producer reads it ('unknown' for what the model treats as such)."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    if value is None:
        return "unknown" if name in ("runtime", "budget", "keywords") else "—"
    if name == "budget":
        return f"${value / 1_000_000:,.1f}M"
    return str(value)


def shown_inputs(payload: dict[str, Any]) -> dict[str, str]:
    """The body the answer was computed from, field by field, keywords left out included."""
    out = {name.replace("_", " "): shown(name, value) for name, value in payload.items()}
    out.setdefault("keywords", "unknown (left out)")
    return out


def describe_inputs(payload: dict[str, Any]) -> pd.DataFrame:
    rows = shown_inputs(payload).items()
    return pd.DataFrame(rows, columns=["field", "value"])
