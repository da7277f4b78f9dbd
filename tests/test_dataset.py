"""Raw partitions, dedupe across dates, the label filter, time splits and the data fingerprint.

The partition tests run twice: on a local DATA_DIR store and on a bucket of a real SeaweedFS.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from moviescore.config import Settings
from moviescore.ingest.partitions import (
    Splits,
    fingerprint,
    iso_day,
    label_filter,
    partition_dates,
    read_all_partitions,
    read_partition,
    split_by_years,
    time_split,
    write_partition,
)
from moviescore.ingest.raw_movie import LIST_FIELDS, RAW_COLUMNS
from moviescore.ingest.tmdb_details import OPTIONAL_LIST_FIELDS, records_to_frame
from moviescore.ingest.validate import validate_raw
from moviescore.storage import DataStore
from tests.helpers.movies import raw_movie


def movie(movie_id: int, released: str = "2020-06-01", **overrides: Any) -> dict[str, Any]:
    return raw_movie(movie_id, released, **overrides)  # one release day unless a test says


def frame(*records: dict[str, Any]) -> pd.DataFrame:
    return validate_raw(records_to_frame(records), max_rejected_share=0.0).valid


def dated(n: int, start: date = date(2000, 1, 1), per_day: int = 1) -> pd.DataFrame:
    """n movies, `per_day` of them on each consecutive release date."""
    return frame(
        *(movie(i + 1, (start + timedelta(days=i // per_day)).isoformat()) for i in range(n))
    )


# --- partitions ---


def stored(settings: Settings) -> list[str]:
    return DataStore.from_settings(settings).keys("raw")


def test_partition_round_trip_keeps_values_and_types(store_settings: Settings) -> None:
    settings = store_settings
    df = frame(movie(1), movie(2, runtime=None, vote_count=None, overview="Ünïcode"))
    key = write_partition(df, date(2024, 1, 2), settings)
    assert key == "raw/date=2024-01-02/movies.parquet"
    assert stored(settings) == [key]
    back = read_partition(date(2024, 1, 2), settings)
    pd.testing.assert_frame_equal(back, df)
    assert list(back.columns) == list(RAW_COLUMNS)
    assert back.loc[0, "genres"] == ["Drama", "Comedy"] and isinstance(
        back.loc[0, "keywords"], list
    )
    assert back["vote_count"].dtype == "Int64" and pd.isna(back.loc[1, "vote_count"])


def test_same_date_twice_is_one_partition_with_the_new_rows(store_settings: Settings) -> None:
    settings = store_settings
    write_partition(frame(movie(1), movie(2)), date(2024, 1, 2), settings)
    write_partition(frame(movie(2, vote_average=7.5), movie(3)), "2024-01-02", settings)
    assert stored(settings) == ["raw/date=2024-01-02/movies.parquet"]  # one object, no copy
    folder = settings.data_dir / "raw" / "date=2024-01-02"  # the store, or its local copy
    assert [p.name for p in folder.iterdir()] == ["movies.parquet"]  # no temp file, no copy
    again = read_partition(date(2024, 1, 2), settings)
    assert again["id"].tolist() == [2, 3]
    assert again["vote_average"].tolist() == [7.5, 6.0]


def test_a_failed_write_leaves_the_old_partition_intact(store_settings: Settings) -> None:
    settings = store_settings
    write_partition(frame(movie(1)), date(2024, 1, 2), settings)
    broken = records_to_frame([movie(1), movie(2, id=None)])  # a null id cannot be stored
    with pytest.raises(Exception, match="id"):
        write_partition(broken, date(2024, 1, 2), settings)
    folder = settings.data_dir / "raw" / "date=2024-01-02"
    assert [p.name for p in folder.iterdir()] == ["movies.parquet"]
    assert stored(settings) == ["raw/date=2024-01-02/movies.parquet"]
    assert read_partition(date(2024, 1, 2), settings)["id"].tolist() == [1]


def test_iso_day_normalises_dates_and_refuses_the_rest() -> None:
    assert iso_day(date(2024, 1, 2)) == iso_day("2024-01-02") == "2024-01-02"
    for bad in ("22/11/2026", "2026-02-30", ""):
        with pytest.raises(ValueError):
            iso_day(bad)


def test_read_partition_of_a_missing_date_names_it(store_settings: Settings) -> None:
    with pytest.raises(FileNotFoundError, match="2024-01-09"):
        read_partition(date(2024, 1, 9), store_settings)


def test_read_all_partitions_latest_date_wins(store_settings: Settings) -> None:
    settings = store_settings
    # written out of order on purpose: the partition date decides, not the write order
    write_partition(frame(movie(2, vote_average=8.0), movie(3)), date(2024, 1, 3), settings)
    write_partition(frame(movie(1), movie(2, vote_average=5.0)), date(2024, 1, 1), settings)
    write_partition(frame(movie(3, vote_average=9.0), movie(4)), date(2024, 1, 5), settings)
    store = DataStore.from_settings(settings)
    store.put_bytes("raw/date=garbage/movies.parquet", b"not a date")  # ignored, not fatal
    store.put_bytes("raw/date=2024-01-02/notes.txt", b"not a partition")

    every = read_all_partitions(settings)
    assert sorted(every["id"]) == [1, 2, 3, 4]
    ratings = dict(zip(every["id"], every["vote_average"], strict=True))
    assert ratings == {1: 6.0, 2: 8.0, 3: 9.0, 4: 6.0}
    for name in LIST_FIELDS:  # None only where it means "unknown" (e.g. credits not given)
        unknown_ok = name in OPTIONAL_LIST_FIELDS
        assert all(isinstance(v, list) or (unknown_ok and v is None) for v in every[name])

    until = read_all_partitions(settings, until=date(2024, 1, 4))
    assert dict(zip(until["id"], until["vote_average"], strict=True)) == {1: 6.0, 2: 8.0, 3: 6.0}

    # a date range: [since, until], both ends inclusive
    assert partition_dates(settings) == [date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 5)]
    assert partition_dates(settings, since=date(2024, 1, 3), until=date(2024, 1, 5)) == [
        date(2024, 1, 3),
        date(2024, 1, 5),
    ]
    late = read_all_partitions(settings, since=date(2024, 1, 2), until=date(2024, 1, 3))
    assert dict(zip(late["id"], late["vote_average"], strict=True)) == {2: 8.0, 3: 6.0}


def test_read_all_partitions_of_an_empty_store(store_settings: Settings) -> None:
    empty = read_all_partitions(store_settings)
    assert empty.empty and list(empty.columns) == list(RAW_COLUMNS)


# --- label filter ---


def test_label_filter_needs_more_than_min_votes_and_a_label() -> None:
    df = frame(
        movie(1, vote_count=5),
        movie(2, vote_count=6),
        movie(3, vote_count=None),
        movie(4, vote_count=500, vote_average=None),
        movie(5, vote_count=0, vote_average=0.0),  # unreleased: TMDB says 0 of 0
    )
    assert label_filter(df, 5)["id"].tolist() == [2]
    assert label_filter(df, 0)["id"].tolist() == [1, 2]


# --- time split ---


def test_time_split_puts_the_newest_releases_last() -> None:
    df = dated(100).sample(frac=1, random_state=3)  # order of rows must not matter
    splits = time_split(df, val_share=0.15, test_share=0.15)
    assert isinstance(splits, Splits) and tuple(splits._fields) == ("train", "val", "test")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (70, 15, 15)
    assert splits.train["release_date"].max() < splits.val["release_date"].min()
    assert splits.val["release_date"].max() < splits.test["release_date"].min()
    assert set(splits.test["id"]) == set(range(86, 101))  # the 15 newest
    together = pd.concat(splits)
    assert sorted(together["id"]) == list(range(1, 101))


def test_time_split_never_cuts_through_a_release_date() -> None:
    df = dated(100, per_day=10)  # ten releases a day: boundaries must fall between days
    splits = time_split(df, val_share=0.15, test_share=0.15)
    sizes = [len(s) for s in splits]
    assert sizes == [60, 20, 20]  # 15 of 100 rounds up to two whole days, for test and val
    days = [set(s["release_date"]) for s in splits]
    assert not (days[0] & days[1]) and not (days[1] & days[2]) and not (days[0] & days[2])
    assert max(days[0]) < min(days[1]) and max(days[1]) < min(days[2])


@pytest.mark.parametrize(
    "df",
    [
        pytest.param(dated(50, per_day=50), id="one-release-date"),
        pytest.param(dated(2), id="too-few-dates"),
        pytest.param(records_to_frame([]), id="empty"),
    ],
)
def test_time_split_refuses_an_empty_split(df: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="set empty"):
        time_split(df)


def test_time_split_rejects_impossible_shares() -> None:
    with pytest.raises(ValueError, match="shares"):
        time_split(dated(20), val_share=0.5, test_share=0.5)


def test_split_by_years() -> None:
    df = frame(*(movie(y, f"{y}-05-01") for y in range(2005, 2014)))
    splits = split_by_years(df, train_until=2009, val_until=2011)
    assert splits.train["id"].tolist() == [2005, 2006, 2007, 2008, 2009]
    assert splits.val["id"].tolist() == [2010, 2011]
    assert splits.test["id"].tolist() == [2012, 2013]
    with pytest.raises(ValueError, match="test set empty"):
        split_by_years(df, train_until=2009, val_until=2013)


@pytest.mark.slow
def test_shared_data_split_by_years(tmdb_5000_zip: Path) -> None:
    from moviescore.ingest.sources import read_snapshot

    labelled = label_filter(validate_raw(read_snapshot(tmdb_5000_zip)).valid, 5)
    splits = split_by_years(labelled, train_until=2009, val_until=2011)
    assert splits.train["release_date"].max() < "2010" <= splits.val["release_date"].min()
    assert splits.val["release_date"].max() < "2012" <= splits.test["release_date"].min()
    assert len(splits.test) == 414  # DESIGN's reference figure for 2012–2013, vote_count > 5


# --- fingerprint ---


def test_fingerprint_tracks_ids_and_labels_not_row_order() -> None:
    df = dated(30)
    print_ = fingerprint(df)
    assert len(print_) == 16 and int(print_, 16) >= 0
    assert fingerprint(df.sample(frac=1, random_state=1)) == print_
    relabelled = df.copy()
    relabelled.loc[relabelled.index[0], "vote_average"] = 6.1
    assert fingerprint(relabelled) != print_
    assert fingerprint(df.iloc[1:]) != print_
    retitled = df.assign(title="Other")  # not part of the print: only ids and labels are
    assert fingerprint(retitled) == print_
