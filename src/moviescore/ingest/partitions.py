"""Raw partitions per logical date, and the labelled, time-split data a training run sees.

The data store's key `raw/date=YYYY-MM-DD/movies.parquet` (`s3://$S3_BUCKET/data/raw/…`, see
`moviescore.storage`) holds one date's validated batch. Writing a date again replaces that one
object whole, so a re-run never duplicates and a reader never sees half a partition. Across dates
a movie is kept once: the latest partition's version of it wins (its votes and rating are the
freshest). Partitions are read by date range (`read_all_partitions(since=, until=)`).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa

from moviescore.config import Settings
from moviescore.ingest.raw_movie import (
    FLOAT_FIELDS,
    INT_FIELDS,
    LABEL,
    LIST_FIELDS,
    RAW_ARROW_SCHEMA,
    RAW_COLUMNS,
)
from moviescore.ingest.tmdb_details import OPTIONAL_LIST_FIELDS, records_to_frame, with_dtypes
from moviescore.storage import DataStore

log = logging.getLogger(__name__)

PARTITION_FILE = "movies.parquet"
RAW = "raw"


class Splits(NamedTuple):
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


SPLITS: tuple[str, ...] = Splits._fields  # ("train", "val", "test"): file and metric names


def iso_day(day: date | str) -> str:
    """`day` as YYYY-MM-DD; ValueError for anything that is not a calendar date."""
    return date.fromisoformat(str(day)).isoformat()


def partition_key(day: date | str) -> str:
    """The data store key of the raw partition of `day`."""
    return f"{RAW}/date={iso_day(day)}/{PARTITION_FILE}"


def partition_path(day: date | str, settings: Settings) -> Path:
    """The partition's file in DATA_DIR: the store itself when DATA_STORE=local, else a copy."""
    return settings.data_dir / partition_key(day)


def write_partition(
    df: pd.DataFrame, date: date | str, settings: Settings, store: DataStore | None = None
) -> str:
    """Write (or replace) the raw partition of `date` in one PUT; returns its key."""
    store = store or DataStore.from_settings(settings)
    table = pa.Table.from_pandas(
        df[list(RAW_COLUMNS)], schema=RAW_ARROW_SCHEMA, preserve_index=False
    )
    key = store.put_parquet(partition_key(date), table)
    log.info("wrote %d movies to %s", len(df), store.url(key))
    return key


def read_partition(
    date: date | str, settings: Settings, store: DataStore | None = None
) -> pd.DataFrame:
    store = store or DataStore.from_settings(settings)
    try:
        return _to_frame(store.get_parquet(partition_key(date), RAW_ARROW_SCHEMA))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no raw partition for {iso_day(date)}: {exc}") from None


def partition_dates(
    settings: Settings,
    since: date | None = None,
    until: date | None = None,
    store: DataStore | None = None,
) -> list[date]:
    """The dates that have a partition, oldest first, within [since, until] (both inclusive)."""
    store = store or DataStore.from_settings(settings)
    days = []
    for key in store.keys(RAW):
        folder, _, name = key.removeprefix(f"{RAW}/").partition("/")
        try:
            day = date.fromisoformat(folder.removeprefix("date="))
        except ValueError:
            day = None
        if day is None or name != PARTITION_FILE or not folder.startswith("date="):
            log.warning("ignoring %s: not a date=YYYY-MM-DD partition", store.url(key))
            continue
        if (since is None or day >= since) and (until is None or day <= until):
            days.append(day)
    return sorted(days)


def read_all_partitions(
    settings: Settings,
    until: date | None = None,
    since: date | None = None,
    store: DataStore | None = None,
) -> pd.DataFrame:
    """Every partition in [since, until] (inclusive), one row per id, the latest date's version."""
    store = store or DataStore.from_settings(settings)
    days = partition_dates(settings, since, until, store)
    if not days:
        log.warning("no raw partitions in %s (since %s, until %s)", store.url(RAW), since, until)
        return records_to_frame([])
    tables = store.get_parquets([partition_key(d) for d in days], RAW_ARROW_SCHEMA)
    movies = pd.concat([_to_frame(t) for t in tables], ignore_index=True)
    movies = movies.drop_duplicates("id", keep="last").reset_index(drop=True)
    log.info("%d partitions, %d distinct movies", len(days), len(movies))
    return movies


def label_filter(df: pd.DataFrame, min_votes: int) -> pd.DataFrame:
    """Rows with a label and MORE than `min_votes` votes.

    A rating from a handful of votes is mostly noise (one fan gives 10): training on it teaches the
    model noise, and scoring on it makes the metrics lie. Unreleased films have no votes yet.
    """
    votes = pd.to_numeric(df["vote_count"], errors="coerce").fillna(0)
    keep = (votes > min_votes) & df[LABEL].notna()
    log.info("label filter (vote_count > %d): %d of %d rows kept", min_votes, keep.sum(), len(df))
    return df[keep].reset_index(drop=True)


def time_split(df: pd.DataFrame, val_share: float = 0.15, test_share: float = 0.15) -> Splits:
    """Newest releases → test, the next newest → validation, the rest → train.

    Cuts fall between release dates, never inside one, so a split may hold a little more than its
    share; every split must end up non-empty.
    """
    if not (val_share > 0 and test_share > 0 and val_share + test_share < 1):
        raise ValueError(f"need 0 < shares and val+test < 1, got {val_share=} {test_share=}")
    released = _release_dates(df)
    newest_first = released.value_counts().sort_index(ascending=False).cumsum()
    test_from = _cut(newest_first, max(1, round(len(df) * test_share)))
    taken = newest_first[test_from] if test_from is not None else len(df)
    val_from = _cut(newest_first[newest_first > taken] - taken, max(1, round(len(df) * val_share)))
    far_future = pd.Timestamp.max
    test_at = test_from if test_from is not None else far_future
    val_at = val_from if val_from is not None else test_at
    return _splits(
        df, released < val_at, (released >= val_at) & (released < test_at), released >= test_at
    )


def split_by_years(df: pd.DataFrame, train_until: int, val_until: int) -> Splits:
    """Fixed year cuts for benchmarks: train ≤ train_until < val ≤ val_until < test."""
    if train_until >= val_until:
        raise ValueError(f"train_until ({train_until}) must be before val_until ({val_until})")
    years = _release_dates(df).dt.year
    return _splits(
        df, years <= train_until, (years > train_until) & (years <= val_until), years > val_until
    )


def fingerprint(df: pd.DataFrame) -> str:
    """Short sha256 of the (id, label) pairs, order-free: same rows and labels → same print."""
    pairs = df[["id", LABEL]].sort_values(["id", LABEL], kind="stable")
    payload = "\n".join(f"{int(i)}:{float(v)!r}" for i, v in pairs.itertuples(index=False))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _cut(newest_first: pd.Series, target: int) -> pd.Timestamp | None:
    """The oldest date that still belongs to a set taking `target` rows from the newest down."""
    reached = newest_first[newest_first >= target]
    return None if reached.empty else pd.Timestamp(reached.index[0])


def _splits(df: pd.DataFrame, *masks: pd.Series) -> Splits:
    parts = [df[mask].sort_values(["release_date", "id"]).reset_index(drop=True) for mask in masks]
    for name, part in zip(SPLITS, parts, strict=True):
        if part.empty:
            sizes = ", ".join(f"{n}={len(p)}" for n, p in zip(SPLITS, parts, strict=True))
            raise ValueError(
                f"time split of {len(df)} movies leaves the {name} set empty ({sizes}): "
                "collect more movies or more distinct release dates"
            )
    return Splits(*parts)


def _release_dates(df: pd.DataFrame) -> pd.Series:
    released = pd.to_datetime(df["release_date"], format="%Y-%m-%d", errors="coerce")
    if released.isna().any():
        raise ValueError(f"{int(released.isna().sum())} rows without a valid release_date")
    return released


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Python values like the sources give (lists of str, None for missing), numbers typed."""
    numbers = [*FLOAT_FIELDS, *INT_FIELDS]
    df = table.select(numbers).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name in RAW_COLUMNS:
        if name not in numbers:
            values = table.column(name).to_pylist()
            if name in LIST_FIELDS and name not in OPTIONAL_LIST_FIELDS:  # None there = unknown
                values = [value or [] for value in values]
            df[name] = pd.Series(values, index=df.index, dtype=object)
    return with_dtypes(df[list(RAW_COLUMNS)])
