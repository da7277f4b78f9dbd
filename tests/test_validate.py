"""Validation: every rule rejects with a readable reason, the report is written, limits hold."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from moviescore.config import Settings
from moviescore.ingest.raw_movie import RAW_COLUMNS
from moviescore.ingest.sources import read_snapshot
from moviescore.ingest.tmdb_details import PARSE_ERRORS, records_to_frame
from moviescore.ingest.validate import (
    TooManyRejected,
    ValidationReport,
    validate_raw,
    write_rejected,
)
from moviescore.storage import DataStore
from tests.helpers.movies import raw_movie as movie

DAY = date(2024, 3, 1)


def batch(*odd: dict[str, Any], good: int = 20) -> pd.DataFrame:
    return records_to_frame([movie(i) for i in range(1, good + 1)] + list(odd))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"id": -5}, "id: must be an integer >= 1 (got '-5')"),
        ({"id": "abc"}, "id: must be an integer >= 1 (got 'abc')"),
        ({"title": None}, "title: missing"),
        ({"title": "   "}, "title: must be non-empty text"),
        ({"release_date": None}, "release_date: missing"),
        ({"release_date": "2020-02-30"}, "release_date: must be an ISO date YYYY-MM-DD"),
        ({"release_date": "03/01/2020"}, "release_date: must be an ISO date YYYY-MM-DD"),
        ({"runtime": 1500.0}, "runtime: must be a number in [0, 1000]"),
        ({"runtime": -1.0}, "runtime: must be a number in [0, 1000]"),
        ({"budget": -10.0}, "budget: must be a number >= 0"),
        ({"budget": "a lot"}, "budget: must be a number >= 0 (got 'a lot')"),
        ({"vote_average": 10.5}, "vote_average: must be a number in [0, 10]"),
        ({"vote_average": float("inf")}, "vote_average: must be a number in [0, 10]"),
        ({"vote_count": -3}, "vote_count: must be an integer >= 0"),
        ({"vote_count": 2.5}, "vote_count: must be an integer >= 0"),
        ({"original_language": "EN"}, "original_language: must be a 2-letter lowercase ISO code"),
        ({"original_language": "eng"}, "original_language: must be a 2-letter lowercase ISO code"),
        ({"genres": "Drama"}, "genres: must be a list of text (got 'Drama')"),
        ({"keywords": ["ok", 3]}, "keywords: must be a list of text"),
    ],
)
def test_each_rule_rejects_with_its_reason(overrides: dict[str, Any], reason: str) -> None:
    df = batch(movie(999, **overrides))
    report = validate_raw(df, max_rejected_share=1.0)
    assert len(report.valid) == 20
    assert len(report.rejected) == 1
    row = report.rejected.iloc[0]
    assert reason in row["reason"], row["reason"]
    assert row["title"] == overrides.get("title", "Film 999")  # original fields are kept


def test_missing_values_that_are_allowed() -> None:
    odd = movie(
        999, runtime=None, budget=None, vote_average=None, vote_count=None, original_language=None
    )
    no_lists = movie(998, genres=None, spoken_languages=None)  # an absent list is an empty list
    report = validate_raw(batch(odd, no_lists), max_rejected_share=0.0)
    assert report.rejected.empty and len(report.valid) == 22
    assert report.valid.loc[report.valid["id"] == 998, "genres"].tolist() == [[]]


def test_all_reasons_of_a_row_are_joined_and_duplicates_keep_the_first() -> None:
    df = batch(movie(999, title="", budget=-1.0, genres="x"), movie(5, title="Second copy of id 5"))
    report = validate_raw(df, max_rejected_share=1.0)
    reasons = dict(zip(report.rejected["title"], report.rejected["reason"], strict=True))
    assert reasons[""].split("; ") == [
        "title: must be non-empty text (got '')",
        "budget: must be a number >= 0 (got '-1.0')",
        "genres: must be a list of text (got 'x')",
    ]
    assert reasons["Second copy of id 5"] == "id: duplicate id in the batch (first kept)"
    assert report.valid.loc[report.valid["id"] == 5, "title"].tolist() == ["Film 5"]


def test_valid_rows_are_typed() -> None:
    report = validate_raw(batch(movie(999, budget="oops")), max_rejected_share=1.0)
    valid = report.valid
    assert list(valid.columns) == list(RAW_COLUMNS)
    assert valid["id"].dtype == "int64"
    assert valid["budget"].dtype == "float64"  # the text "oops" left with its row
    assert valid["vote_count"].dtype == "Int64"
    assert PARSE_ERRORS not in valid.attrs


def test_too_many_rejected_names_counts_and_top_reasons() -> None:
    bad = [movie(100 + i, release_date=None) for i in range(4)] + [movie(200, vote_count=-1)]
    df = batch(*bad, good=15)  # 5 of 20 = 25 %
    validate_raw(df, max_rejected_share=0.25)  # exactly at the limit: allowed
    with pytest.raises(TooManyRejected) as caught:
        validate_raw(df, max_rejected_share=0.2)
    message = str(caught.value)
    assert "5 of 20 rows rejected (25.0% > the 20.0% allowed" in message
    assert "release_date: missing ×4" in message
    assert "vote_count: must be an integer >= 0 ×1" in message
    assert len(caught.value.report.rejected) == 5  # still there to be written


def test_a_frame_without_the_raw_columns_is_a_bug_not_a_row() -> None:
    df = batch().drop(columns=["keywords"])
    with pytest.raises(ValueError, match="RAW_COLUMNS"):
        validate_raw(df)


def test_empty_batch_is_valid_and_empty() -> None:
    report = validate_raw(records_to_frame([]))
    assert report.valid.empty and report.rejected.empty


def test_write_rejected_then_a_clean_rerun_removes_the_report(store_settings: Settings) -> None:
    settings = store_settings
    store = DataStore.from_settings(settings)
    report = validate_raw(
        batch(movie(999, genres="[broken"), movie(998, keywords=["ok"], release_date=None)),
        max_rejected_share=1.0,
    )
    key = write_rejected(report, DAY, settings)
    assert key == "rejected/date=2024-03-01.csv"
    assert store.keys("rejected") == [key]
    path = settings.data_dir / key  # the store itself, or its local copy
    written = pd.read_csv(io.BytesIO(store.get_bytes(key)))
    assert list(written.columns) == [*RAW_COLUMNS, "reason"]
    assert dict(zip(written["id"], written["reason"], strict=True)) == {
        999: "genres: must be a list of text (got '[broken')",
        998: "release_date: missing",
    }
    assert dict(zip(written["id"], written["genres"], strict=True))[999] == "[broken"  # raw kept
    assert dict(zip(written["id"], written["keywords"], strict=True))[998] == '["ok"]'
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left

    clean = validate_raw(batch())
    assert write_rejected(clean, DAY, settings) is None
    assert not path.exists() and store.keys("rejected") == []


def test_write_rejected_without_anything_rejected_writes_nothing(store_settings: Settings) -> None:
    settings = store_settings
    empty = ValidationReport(batch(), batch().iloc[0:0].assign(reason=[]))
    assert write_rejected(empty, "2024-03-02", settings) is None
    assert not (settings.data_dir / "rejected").exists()
    assert DataStore.from_settings(settings).keys("rejected") == []


@pytest.mark.slow
def test_shared_tmdb_5000_validation(tmdb_5000_zip: Path) -> None:
    df = read_snapshot(tmdb_5000_zip)
    report = validate_raw(df)
    assert len(report.valid) + len(report.rejected) == len(df) == 4244
    assert len(report.rejected) / len(df) < 0.01
    assert report.valid["id"].is_unique
    # the one film TMDB 5000 lists without a release date cannot be placed in time
    undated = df.loc[df["release_date"].isna(), "id"].tolist()
    assert undated and set(undated) <= set(report.rejected["id"])
    assert all(report.rejected["reason"].str.len() > 0)
