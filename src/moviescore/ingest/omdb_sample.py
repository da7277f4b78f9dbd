"""The offline sample: 12.5k real films from OMDb (2014), shipped by `bokeh-sampledata==2025.0`.

It lets a fresh machine run the whole pipeline without a TMDB key. It is NOT TMDB data and says
so: `source` is "omdb_sample", the label is the IMDb rating (0–10) and its evidence the IMDb vote
count. It has no overview (sentiment is neutral there), no budget and no keywords. Language and
country names are mapped to the ISO codes TMDB uses, with Babel's English names plus the few
names OMDb spells its own way; an unknown name is left out rather than guessed.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from moviescore.ingest.tmdb_details import as_float, as_int, as_text, records_to_frame

log = logging.getLogger(__name__)

SOURCE = "omdb_sample"
# OMDb keys films by IMDb number (tt0004972 → 4972). Offset so a sample id can never collide with
# a TMDB id (≈1.6M today) when both sources land in the same data dir.
ID_OFFSET = 1_000_000_000
LANGUAGE_NAMES = {  # OMDb names Babel does not know, to TMDB's codes (TMDB says "cn" for Cantonese)
    "Mandarin": "zh",
    "Cantonese": "cn",
    "Bengali": "bn",
    "Filipino": "tl",
    "Flemish": "nl",
    "Dari": "fa",
    "Panjabi": "pa",
    "Swiss German": "de",
    "Haitian": "ht",
    "Serbo-Croatian": "sh",
}
COUNTRY_NAMES = {  # OMDb names of countries (some gone) → ISO 3166-1 as TMDB uses them
    "USA": "US",
    "UK": "GB",
    "West Germany": "DE",
    "Soviet Union": "SU",
    "Yugoslavia": "YU",
    "Federal Republic of Yugoslavia": "YU",
    "Republic of Macedonia": "MK",
    "South Korea": "KR",
    "North Korea": "KP",
    "Russia": "RU",
    "Iran": "IR",
    "Vietnam": "VN",
}
GENRE_NAMES = {"Sci-Fi": "Science Fiction"}  # TMDB's name for the same genre
QUERY = """
SELECT o.ID, o.Title, o.Released, o.Runtime, o.Genre, o.Language, o.Country,
       o.imdbRating, o.imdbVotes, t.Production
FROM omdb AS o LEFT JOIN tomatoes AS t ON t.ID = o.ID
ORDER BY o.ID
"""


def sample_db_path() -> Path:
    """movies.db inside the installed bokeh-sampledata (a clear error when it is not installed)."""
    try:
        from bokeh_sampledata.movies_data import movie_path
    except ImportError as exc:
        raise RuntimeError(
            "the offline sample needs `bokeh-sampledata==2025.0` (the `train` extra)"
        ) from exc
    return Path(movie_path)


def read_sample() -> pd.DataFrame:
    path = sample_db_path()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        rows = connection.execute(QUERY).fetchall()
    records = [_to_raw(row) for row in rows]
    log.info("OMDb sample %s: %d films", path, len(records))
    return records_to_frame(records)


def _to_raw(row: tuple[Any, ...]) -> dict[str, Any]:
    key, title, released, runtime, genre, language, country, rating, votes, production = row
    names = _split(language)
    languages = [code for name in names if (code := _language_code(name))]
    return {
        "id": ID_OFFSET + key,
        "title": as_text(title),
        "original_title": None,
        "overview": None,
        "tagline": None,
        "release_date": as_text(released),
        "original_language": _language_code(names[0]) if names else None,
        "homepage": None,
        "status": "Released",
        "runtime": as_float(runtime),
        "budget": None,
        "vote_average": as_float(rating),
        "vote_count": as_int(votes),
        "popularity": None,
        "revenue": None,
        "genres": [GENRE_NAMES.get(name, name) for name in _split(genre)],
        "keywords": None,  # OMDb has none: unknown, not empty
        "production_companies": _split(production),
        "production_countries": [code for n in _split(country) if (code := _country_code(n))],
        "spoken_languages": list(dict.fromkeys(languages)),
        "source": SOURCE,
    }


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip() not in ("", "N/A")]


@cache
def _babel_codes() -> tuple[dict[str, str], dict[str, str]]:
    """(English language name → ISO 639-1, English country name → ISO 3166-1) from Babel's CLDR."""
    try:
        from babel import Locale
    except ImportError as exc:  # comes with the `train` extra; without it the sample is unreadable
        raise RuntimeError("mapping the sample's language names needs `babel`") from exc

    english = Locale("en")
    languages = {name: code for code, name in english.languages.items() if len(code) == 2}
    countries = {name: code for code, name in english.territories.items() if code.isalpha()}
    return languages, countries


def _language_code(name: str) -> str | None:
    return LANGUAGE_NAMES.get(name) or _babel_codes()[0].get(name)


def _country_code(name: str) -> str | None:
    return COUNTRY_NAMES.get(name) or _babel_codes()[1].get(name)
