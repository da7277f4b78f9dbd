"""Schema and range checks on a raw batch, with every rejected row kept and its reasons named.

The rules are one pandera schema, checked lazily so each row collects all of its failures. A movie
without a release date is rejected: it cannot be placed on either side of a time split. Missing
numbers are allowed (TMDB's 0/None mean "unknown"); impossible ones are not.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from numbers import Integral, Real
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from moviescore.config import Settings
from moviescore.ingest.partitions import iso_day
from moviescore.ingest.raw_movie import LIST_FIELDS, RAW_COLUMNS, TEXT_FIELDS
from moviescore.ingest.tmdb_details import OPTIONAL_LIST_FIELDS, PARSE_ERRORS, with_dtypes
from moviescore.storage import DataStore, atomic_write

log = logging.getLogger(__name__)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_LINE = re.compile(r"line \d+: ")
_BUILTIN = {"not_nullable": "missing", "field_uniqueness": "duplicate id in the batch (first kept)"}


class ValidationReport(NamedTuple):
    valid: pd.DataFrame  # RAW_COLUMNS, typed
    rejected: pd.DataFrame  # the rows as they came + "reason" ("; "-joined)


class TooManyRejected(ValueError):
    """More of the batch failed validation than settings.max_rejected_share allows."""

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report  # so a caller can still write the rejected rows before failing


def _number(low: float, high: float | None = None) -> pa.Check:
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(float(v)):
            return False
        return low <= float(v) and (high is None or float(v) <= high)

    bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
    return pa.Check(ok, element_wise=True, error=f"must be a number {bounds}")


def _count(minimum: int) -> pa.Check:
    def ok(v: Any) -> bool:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return isinstance(v, Integral) and not isinstance(v, bool) and int(v) >= minimum

    return pa.Check(ok, element_wise=True, error=f"must be an integer >= {minimum}")


def _rule(test: Callable[[Any], bool], error: str) -> pa.Check:
    return pa.Check(test, element_wise=True, error=error)


def _iso_date(v: Any) -> bool:
    if not isinstance(v, str) or not _ISO_DATE.fullmatch(v):
        return False
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _language(v: Any) -> bool:
    return isinstance(v, str) and _LANGUAGE.fullmatch(v) is not None


def _nonempty_text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _list_of_str(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(item, str) for item in v)


def _column(check: pa.Check, *, nullable: bool = True, **kw: Any) -> pa.Column:
    return pa.Column(checks=[check], nullable=nullable, required=True, **kw)


_SPECIAL = ("id", "title", "release_date", "original_language", "source")
SCHEMA = pa.DataFrameSchema(
    {
        "id": _column(_count(1), nullable=False, unique=True, report_duplicates="exclude_first"),
        "title": _column(_rule(_nonempty_text, "must be non-empty text"), nullable=False),
        # no date, no place in a time split
        "release_date": _column(_rule(_iso_date, "must be an ISO date YYYY-MM-DD"), nullable=False),
        "original_language": _column(_rule(_language, "must be a 2-letter lowercase ISO code")),
        "source": _column(_rule(_text, "must be text"), nullable=False),
        **{
            name: _column(_rule(_text, "must be text"))
            for name in TEXT_FIELDS
            if name not in _SPECIAL
        },
        "runtime": _column(_number(0, 1000)),
        "budget": _column(_number(0)),
        "revenue": _column(_number(0)),
        "popularity": _column(_number(0)),
        "vote_average": _column(_number(0, 10)),
        "vote_count": _column(_count(0)),
        **{  # None only where it means "this source does not say" (records.OPTIONAL_LIST_FIELDS)
            name: _column(
                _rule(_list_of_str, "must be a list of text"),
                nullable=name in OPTIONAL_LIST_FIELDS,
            )
            for name in LIST_FIELDS
        },
    },
    strict=True,  # exactly RAW_COLUMNS: a missing or extra column is a bug upstream, not a row
    ordered=False,
)


def _reasons(df: pd.DataFrame) -> dict[Any, list[str]]:
    """{index label: reasons} for every row that breaks a rule or could not be read."""
    reasons: dict[Any, list[str]] = {
        label: [f"unreadable row: {problem}"]
        for label, problem in df.attrs.get(PARSE_ERRORS, {}).items()
    }
    try:
        SCHEMA.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        whole = cases[cases["index"].isna()]
        if not whole.empty:  # column-level: missing/extra column, wrong frame shape
            problems = whole.to_dict("records")
            raise ValueError(f"raw batch does not have RAW_COLUMNS: {problems}") from None
        for case in cases.itertuples(index=False):
            check = _BUILTIN.get(str(case.check), str(case.check))
            got = "" if check in _BUILTIN.values() else f" (got {str(case.failure_case)[:80]!r})"
            reasons.setdefault(case.index, []).append(f"{case.column}: {check}{got}")
    return reasons


def validate_raw(df: pd.DataFrame, max_rejected_share: float = 0.2) -> ValidationReport:
    """Split a raw batch into valid rows and rejected rows with reasons; raise TooManyRejected
    when the rejected share exceeds `max_rejected_share`."""
    df = df.reset_index(drop=True) if not df.index.is_unique else df
    reasons = _reasons(df)
    bad = df.index.isin(list(reasons))
    rejected = df[bad].copy()
    rejected["reason"] = ["; ".join(reasons[label]) for label in rejected.index]
    valid = with_dtypes(df[~bad][list(RAW_COLUMNS)].copy())
    valid.attrs.pop(PARSE_ERRORS, None)
    report = ValidationReport(valid, rejected)
    top = Counter(_kind(r) for rs in reasons.values() for r in rs).most_common(5)
    log.info("validated %d rows: %d valid, %d rejected", len(df), len(valid), len(rejected))
    if len(rejected):
        log.warning("top rejection reasons: %s", top)
    share = len(rejected) / len(df) if len(df) else 0.0
    if share > max_rejected_share:
        raise TooManyRejected(
            f"{len(rejected)} of {len(df)} rows rejected ({share:.1%} > the "
            f"{max_rejected_share:.1%} allowed by MAX_REJECTED_SHARE); top reasons: "
            + "; ".join(f"{reason} ×{count}" for reason, count in top),
            report,
        )
    return report


def rejected_key(date: date | str) -> str:
    return f"rejected/date={iso_day(date)}.csv"


def _rejected_csv(report: ValidationReport) -> bytes:
    out = report.rejected.copy()
    for name in LIST_FIELDS:  # lists as JSON; raw unparseable text stays exactly as it came
        out[name] = [
            v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
            for v in out[name]
        ]
    return out.to_csv(index=False).encode("utf-8")


def write_rejected(report: ValidationReport, date: date | str, settings: Settings) -> str | None:
    """The data store's rejected/date=D.csv with every rejected row and its reason (one PUT);
    its key. None and no object when nothing was rejected, so a clean re-run removes the stale
    report of a bad one."""
    store = DataStore.from_settings(settings)
    key = rejected_key(date)
    if report.rejected.empty:
        store.delete(key)
        return None
    store.put_bytes(key, _rejected_csv(report))
    log.warning("%d rejected rows written to %s", len(report.rejected), store.url(key))
    return key


def write_rejected_rows(report: ValidationReport, path: Path) -> Path | None:
    """`path` (a local file: batch prediction's report) with every rejected row and its reason
    (atomic); None, and `path` removed, when nothing was rejected."""
    if report.rejected.empty:
        path.unlink(missing_ok=True)
        return None
    blob = _rejected_csv(report)
    atomic_write(path, lambda tmp: tmp.write_bytes(blob))
    log.warning("%d rejected rows written to %s", len(report.rejected), path)
    return path


def _kind(reason: str) -> str:
    """A reason without its row-specific parts (line number, offending value), for counting."""
    return re.split(r" \(|: '|; ", _LINE.sub("", reason))[0]
