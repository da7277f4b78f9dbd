"""Where raw movies come from: live TMDB, a snapshot file, or the offline OMDb sample.

Every source answers with a frame of exactly `schema.RAW_COLUMNS` (list fields as lists of str,
release_date as ISO text, `source` naming the provenance). Values a source could not interpret
are kept as they came, for `validate` to reject with a reason (see `records`).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from moviescore.config import Settings
from moviescore.ingest.omdb_sample import read_sample
from moviescore.ingest.snapshot import SnapshotFormatError, read_snapshot
from moviescore.ingest.tmdb_details import records_to_frame, tmdb_detail_to_raw

__all__ = [
    "COLLECT_REPORT",
    "SOURCES",
    "IncompleteCollectError",
    "SnapshotFormatError",
    "default_source",
    "load_source",
    "read_sample",
    "read_snapshot",
    "tmdb_detail_to_raw",
    "tmdb_window",
]

SOURCES = ("tmdb", "snapshot", "sample")
COLLECT_REPORT = "collect_report"  # df.attrs key: CollectResult.report() of a live collection


class IncompleteCollectError(RuntimeError):
    """Discover pages failed: the movies on them are unknown, so the batch must not be written."""


def default_source(settings: Settings) -> str:
    """Live TMDB when a credential is configured, else the offline sample."""
    has_key = settings.tmdb_api_key or settings.tmdb_read_access_token
    return "tmdb" if has_key else "sample"


def load_source(
    source: str, *, date: date, snapshot: Path | None, settings: Settings
) -> pd.DataFrame:
    """The raw movies of one logical date from `source` (tmdb | snapshot | sample).

    `snapshot` and `sample` hold no dates of their own: they give the same batch for any date.
    """
    if source == "tmdb":
        return _collect_tmdb(date, settings)
    if source == "snapshot":
        if snapshot is None:
            raise ValueError("source 'snapshot' needs a file: pass --snapshot PATH")
        return read_snapshot(snapshot)
    if source == "sample":
        return read_sample()
    raise ValueError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")


def tmdb_window(day: date, settings: Settings) -> tuple[date, date]:
    """Release dates collected for logical date `day`: days_back before it to days_ahead after;
    ValueError when that window leaves the calendar (years 1-9999)."""
    try:
        return (
            day - timedelta(days=settings.tmdb_days_back),
            day + timedelta(days=settings.tmdb_days_ahead),
        )
    except OverflowError:
        raise ValueError(
            f"--date {day}: the TMDB window of {settings.tmdb_days_back} days before to "
            f"{settings.tmdb_days_ahead} days after it leaves the calendar (years 1-9999)"
        ) from None


def _collect_tmdb(day: date, settings: Settings) -> pd.DataFrame:
    from moviescore.ingest.tmdb import TMDBClient  # httpx & co. only when collecting live

    start, end = tmdb_window(day, settings)
    with TMDBClient(settings) as client:
        result = client.collect(start, end)
    if result.failed_pages:
        first = result.failed_pages[0]
        raise IncompleteCollectError(
            f"{result.summary()}; {len(result.failed_pages)} discover page(s) failed "
            f"(first: {first.window} page {first.page}: {first.error}) — the movies on them are "
            "unknown, so nothing is written; retry the collection"
        )
    # failed and vanished ids were logged by the client as they happened
    df = records_to_frame(tmdb_detail_to_raw(detail, source="tmdb") for detail in result.details)
    df.attrs[COLLECT_REPORT] = result.report()
    return df
