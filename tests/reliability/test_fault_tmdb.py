"""TMDB misbehaving mid-collection, through the real step the DAG runs (`pipeline.collect_step`).

The fake TMDB (tests/helpers/tmdb_fake.py) is a real HTTP server on 127.0.0.1; the collector
reaches it through TMDB_BASE_URL, exactly as it would reach api.themoviedb.org.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from reliability.probes import tree_state

from moviescore.config import Settings, get_settings
from moviescore.ingest.partitions import partition_path
from moviescore.ingest.sources import IncompleteCollectError
from moviescore.steps import collect_step
from tests.helpers.tmdb_fake import FakeTMDB, Fault, make_movies

KEY = "tmdb-fault-test-key"
DS = "2024-01-05"
# ds 2024-01-05 with days_back=3, days_ahead=2 covers 2024-01-02..2024-01-07
MOVIES = make_movies(90, date(2024, 1, 1), days=10)
IN_WINDOW = {m["id"] for m in MOVIES if "2024-01-02" <= m["release_date"] <= "2024-01-07"}


@pytest.fixture
def fake() -> Iterator[FakeTMDB]:
    with FakeTMDB(MOVIES, api_key=KEY) as server:
        yield server


@pytest.fixture
def tmdb_settings(settings: Settings, fake: FakeTMDB, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment a DAG task would see, pointed at the fake."""
    for name, value in {
        "TMDB_API_KEY": KEY,
        "TMDB_BASE_URL": fake.base_url,
        "TMDB_REQUESTS_PER_SECOND": "1000",
        "TMDB_TIMEOUT_SECONDS": "0.5",
        "TMDB_MAX_RETRIES": "1",
        "TMDB_DAYS_BACK": "3",
        "TMDB_DAYS_AHEAD": "2",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


def partition_ids(settings: Settings) -> set[int]:
    return set(pd.read_parquet(partition_path(DS, settings))["id"].astype(int))


def no_temp_files(settings: Settings) -> bool:
    return not [p for p in settings.data_dir.rglob("*") if p.name.endswith(".tmp")]


def test_429_storm_is_ridden_out_and_every_movie_collected(
    tmdb_settings: Settings, fake: FakeTMDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_MAX_RETRIES", "2")
    get_settings.cache_clear()
    # All three discover pages and a third of the details are rate-limited twice, then answer.
    pages = -(-len(IN_WINDOW) // 20)
    assert pages == 3
    for page in range(1, pages + 1):
        fake.inject("/discover/movie", *[Fault.rate_limited("0")] * 2, where={"page": str(page)})
    storm = sorted(IN_WINDOW)[::3]
    for movie_id in storm:
        fake.inject(f"/movie/{movie_id}", Fault.rate_limited("0"), Fault.rate_limited("0"))

    out = collect_step(DS, "tmdb")

    assert out["rows"] == len(IN_WINDOW)
    assert partition_ids(tmdb_settings) == IN_WINDOW
    # every 429 was retried, and nothing else was asked twice
    assert len(fake.requests) == pages + 2 * pages + len(IN_WINDOW) + 2 * len(storm)


@pytest.mark.slow
def test_transient_5xx_reset_and_truncated_json_are_retried(
    tmdb_settings: Settings, fake: FakeTMDB
) -> None:
    ids = sorted(IN_WINDOW)
    fake.inject("/discover/movie", Fault.error(502, retry_after="0"), where={"page": "2"})
    fake.inject("/discover/movie", Fault.bad_json(), where={"page": "1"})  # cut mid-object
    fake.inject(f"/movie/{ids[0]}", Fault.error(503, retry_after="0"))
    fake.inject(f"/movie/{ids[1]}", Fault.connection_reset())
    fake.inject(f"/movie/{ids[2]}", Fault.bad_json())

    out = collect_step(DS, "tmdb")

    assert out["rows"] == len(IN_WINDOW)
    assert partition_ids(tmdb_settings) == IN_WINDOW
    assert no_temp_files(tmdb_settings)


@pytest.mark.parametrize(
    "fault",
    [Fault.error(503, retry_after="0"), Fault.hang(1.0), Fault.bad_json()],
    ids=["5xx", "hang", "truncated-json"],
)
@pytest.mark.slow
def test_a_discover_page_failing_for_good_writes_nothing_and_leaves_the_old_partition(
    tmdb_settings: Settings, fake: FakeTMDB, fault: Fault
) -> None:
    first = collect_step(DS, "tmdb")  # an earlier, complete run of the same date
    before = tree_state(tmdb_settings.data_dir)

    fake.inject("/discover/movie", fault, where={"page": "2"}, repeat=True)
    with pytest.raises(IncompleteCollectError, match=r"discover page\(s\) failed"):
        collect_step(DS, "tmdb")

    assert tree_state(tmdb_settings.data_dir) == before  # not a byte, not an mtime changed
    assert partition_ids(tmdb_settings) == IN_WINDOW
    assert first["rows"] == len(IN_WINDOW)

    fake.clear_faults()  # the fault clears: the retry (Airflow's, or a re-run) gets every id
    assert collect_step(DS, "tmdb")["rows"] == len(IN_WINDOW)
    assert partition_ids(tmdb_settings) == IN_WINDOW


def test_a_fresh_date_failing_mid_collection_leaves_no_partition(
    tmdb_settings: Settings, fake: FakeTMDB
) -> None:
    fake.inject(
        "/discover/movie", Fault.error(500, retry_after="0"), where={"page": "2"}, repeat=True
    )
    with pytest.raises(IncompleteCollectError):
        collect_step(DS, "tmdb")
    assert not partition_path(DS, tmdb_settings).exists()
    assert no_temp_files(tmdb_settings)

    fake.clear_faults()
    collect_step(DS, "tmdb")
    assert partition_ids(tmdb_settings) == IN_WINDOW


@pytest.mark.slow
def test_a_movie_whose_details_fail_for_good_is_not_lost(
    tmdb_settings: Settings, fake: FakeTMDB
) -> None:
    victim = sorted(IN_WINDOW)[4]
    collect_step(DS, "tmdb")  # an earlier run of the date has the movie

    fake.inject(f"/movie/{victim}", Fault.hang(1.0), repeat=True)  # times out on every attempt
    out = collect_step(DS, "tmdb")

    # The re-run finishes with the other movies; the victim keeps the version the earlier run of
    # the same date collected instead of vanishing from the partition.
    assert out["rows"] == len(IN_WINDOW)
    assert partition_ids(tmdb_settings) == IN_WINDOW
    assert no_temp_files(tmdb_settings)

    fake.clear_faults()
    collect_step(DS, "tmdb")
    assert partition_ids(tmdb_settings) == IN_WINDOW


def test_a_detail_failing_on_a_fresh_date_is_reported_and_recovered_by_the_retry(
    tmdb_settings: Settings, fake: FakeTMDB, tmp_path: Path
) -> None:
    victim = sorted(IN_WINDOW)[0]
    fake.inject(f"/movie/{victim}", Fault.error(500, retry_after="0"), repeat=True)
    out = collect_step(DS, "tmdb")
    assert out["rows"] == len(IN_WINDOW) - 1  # nothing to fall back on: reported, not invented
    assert victim not in partition_ids(tmdb_settings)

    fake.clear_faults()
    collect_step(DS, "tmdb")
    assert partition_ids(tmdb_settings) == IN_WINDOW
