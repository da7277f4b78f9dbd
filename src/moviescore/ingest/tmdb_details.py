"""Turning source-shaped movies into raw records (`schema.RawMovie`) and record lists into frames.

One rule for every source: a value that cannot be interpreted is kept exactly as it came (usually
its raw text) instead of being dropped or guessed, so `validate` rejects the row, names the field
and the rejected-rows report still holds the original value. Problems that concern a whole row
(a line that is not JSON, a CSV row with the wrong number of fields) travel beside the frame in
`df.attrs[PARSE_ERRORS]`, keyed by index label, and `validate` turns them into rejection reasons.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, cast

import pandas as pd

from moviescore.ingest.raw_movie import (
    CREDIT_FIELDS,
    FLOAT_FIELDS,
    LIST_FIELDS,
    RAW_COLUMNS,
    TEXT_FIELDS,
    RawMovie,
)

PARSE_ERRORS = "parse_errors"  # df.attrs key: {index label: "what was wrong with the row"}
# List fields some sources do not carry at all (the details CSV, a /movie/{id} response without
# the keywords append): there None means UNKNOWN and must stay None, while [] means "known to have
# none". Models read the two very differently: a film with no keywords looks obscure.
OPTIONAL_LIST_FIELDS = ("keywords", *CREDIT_FIELDS)
# How many credited names a record keeps per field: the few that are known before release and
# recur across films (a film's full cast and crew would be hundreds of names seen once).
TOP_CREDITS = 3

# Which key of TMDB's nested objects holds the value the raw record keeps.
NESTED_KEYS = {
    "genres": "name",
    "keywords": "name",
    "production_companies": "name",
    "production_countries": "iso_3166_1",
    "spoken_languages": "iso_639_1",
    "directors": "name",
    "writers": "name",
    "cast": "name",
}


def as_int(value: Any) -> Any:
    """An integer, None when absent, or the value itself when it is not an integer."""
    number = as_float(value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def as_float(value: Any) -> Any:
    """A float, None when absent, or the value itself (e.g. the text "abc") when not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value  # True is an int to Python, not a budget
    if isinstance(value, int | float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def as_text(value: Any) -> Any:
    """Stripped text, None for empty or absent; non-text is kept as is for validation to judge."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value.strip() or None
    return value


def as_names(value: Any, key: str) -> Any:
    """`[{"id": 1, "name": "Drama"}, …]` → `["Drama", …]`; plain strings pass; other shapes stay."""
    if value is None:
        return []
    if isinstance(value, Mapping) and isinstance(value.get("keywords"), list):
        value = value["keywords"]  # /movie/{id}?append_to_response=keywords nests one level
    if not isinstance(value, list):
        return value
    names: list[Any] = []
    for item in value:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get(key), str):
            names.append(item[key])
        else:
            return value  # one unreadable item: keep the whole list for the rejection report
    return names


def credit_names(credits: Any, field: str) -> Any:
    """The names of `field` (directors, writers or cast) in TMDB's appended `credits` object:
    crew with job Director, crew of the Writing department, the cast in billing order; at most
    TOP_CREDITS each, no repeats. None when there are no credits (unknown); a shape that cannot
    be read is returned as it came, for validation to reject with the reason."""
    if credits is None:
        return None
    if not isinstance(credits, Mapping):
        return credits
    people = credits.get("cast" if field == "cast" else "crew")
    if people is None:
        return []
    if not isinstance(people, list) or not all(isinstance(p, Mapping) for p in people):
        return people
    if field == "cast":
        chosen = sorted(
            people, key=lambda p: p["order"] if isinstance(p.get("order"), int) else 1 << 30
        )
    else:
        key, wanted = ("job", "Director") if field == "directors" else ("department", "Writing")
        chosen = [p for p in people if p.get(key) == wanted]
    names = as_names(chosen, "name")
    if not isinstance(names, list):
        return names
    return list(dict.fromkeys(names))[:TOP_CREDITS]


def tmdb_detail_to_raw(detail: Mapping[str, Any], *, source: str = "tmdb") -> RawMovie:
    """Map a TMDB `/movie/{id}` response (keywords and credits appended or not) to the raw
    record. Credits may also come flattened (`directors`, `writers`, `cast` as name lists)."""
    record: dict[str, Any] = {"id": as_int(detail.get("id"))}
    for name in TEXT_FIELDS:
        record[name] = as_text(detail.get(name))
    for name in FLOAT_FIELDS:
        record[name] = as_float(detail.get(name))
    record["vote_count"] = as_int(detail.get("vote_count"))
    for name in LIST_FIELDS:
        value = detail.get(name)
        if name in CREDIT_FIELDS and value is None:
            value = credit_names(detail.get("credits"), name)
        unknown = value is None and name in OPTIONAL_LIST_FIELDS
        record[name] = None if unknown else as_names(value, NESTED_KEYS[name])
    record["source"] = source
    return cast(RawMovie, record)


def empty_record(source: str) -> dict[str, Any]:
    """The placeholder for a row nothing could be read from (its reason goes in PARSE_ERRORS)."""
    record: dict[str, Any] = dict.fromkeys(RAW_COLUMNS)
    record.update({name: [] for name in LIST_FIELDS}, source=source)
    return record


def records_to_frame(
    records: Iterable[Mapping[str, Any]], parse_errors: Mapping[int, str] | None = None
) -> pd.DataFrame:
    """A frame with exactly RAW_COLUMNS, default index; parse_errors are keyed by position."""
    rows = [{name: record.get(name) for name in RAW_COLUMNS} for record in records]
    df = pd.DataFrame(rows, columns=list(RAW_COLUMNS), dtype=object)
    for name in LIST_FIELDS:  # an absent list field is an empty list, never NaN …
        if name not in OPTIONAL_LIST_FIELDS:  # … unless absent means unknown
            values = [[] if value is None else value for value in df[name]]
            # dtype object also when there are no rows (pandas would pick float64)
            df[name] = pd.Series(values, index=df.index, dtype=object)
    df.attrs[PARSE_ERRORS] = dict(parse_errors or {})
    return with_dtypes(df)


def with_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as numbers wherever every value already is one; others stay as they are.

    ids become int64 (Int64 while any is missing), vote_count Int64, the other numbers float64,
    so a clean frame is typed and a frame with raw leftovers keeps them for validation.
    """
    for name in (*FLOAT_FIELDS, "id", "vote_count"):
        values = df[name]
        typed = values.dtype != object and pd.api.types.is_numeric_dtype(values.dtype)
        if not typed and not all(is_missing(v) or _is_number(v) for v in values):
            continue
        if name in FLOAT_FIELDS:
            df[name] = values.astype("float64")
        elif pd.api.types.is_integer_dtype(values.dtype) or all(
            is_missing(v) or float(v).is_integer() for v in values
        ):
            df[name] = values.astype("Int64")
            if name == "id" and not df[name].isna().any():
                df[name] = df[name].astype("int64")
    return df


def is_missing(value: Any) -> bool:
    """None, NaN or pd.NA; never True for a list or text (pd.isna would answer per element)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
