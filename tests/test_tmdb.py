"""TMDB client against a real local HTTP server (tests/helpers/tmdb_fake.py), TMDB-shaped JSON."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from moviescore.config import Settings
from moviescore.ingest.tmdb import (
    TMDBAuthError,
    TMDBClient,
    TMDBNotFoundError,
    TMDBUnavailableError,
    TruncatedWindow,
)
from moviescore.ingest.tmdb_http import parse_retry_after
from tests.helpers.tmdb_fake import FakeTMDB, Fault, make_movie, make_movies

START = date(2024, 1, 1)
KEY = "s3cr3t-test-key-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeTMDB]:
    # 50 movies over 5 days: 3 discover pages (20 + 20 + 10)
    with FakeTMDB(make_movies(50, START, days=5), api_key=KEY) as server:
        yield server


def configure(settings: Settings, fake: FakeTMDB, **update: Any) -> Settings:
    defaults = {"tmdb_api_key": SecretStr(KEY), "tmdb_max_retries": 3}  # KEY: what clients send
    return fake.settings_for(settings, **(defaults | update))


def make_client(settings: Settings, fake: FakeTMDB, **update: Any) -> TMDBClient:
    return TMDBClient(configure(settings, fake, **update), backoff_base=0.01, progress=False)


def expected_order(movies: list[dict[str, Any]]) -> list[int]:
    return [m["id"] for m in sorted(movies, key=lambda m: (m["release_date"], m["id"]))]


def test_collect_reads_every_page_and_every_detail(settings: Settings, fake: FakeTMDB) -> None:
    with make_client(settings, fake) as client:
        result = client.collect(START, START + timedelta(days=4))

    assert result.ids == expected_order(list(fake.movies.values()))
    assert [d["id"] for d in result.details] == result.ids
    assert result.details[0]["keywords"] == {"keywords": [{"id": 1, "name": "fake"}]}
    assert result.complete and not result.failed_pages and not result.failed_ids
    pages = fake.hits("/discover/movie")
    assert [p.params["page"] for p in pages] == ["1", "2", "3"]
    assert pages[0].params == {
        "primary_release_date.gte": "2024-01-01",
        "primary_release_date.lte": "2024-01-05",
        "sort_by": "primary_release_date.asc",
        "page": "1",
        "language": "en-US",
        "include_adult": "false",
        "api_key": KEY,
    }
    detail = fake.hits("/movie/1")[0]
    assert detail.params["append_to_response"] == "keywords,credits"
    assert detail.params["language"] == "en-US"
    assert "50 ids discovered, 50 details fetched" in result.summary()


def test_wide_windows_are_split_until_under_the_page_cap(settings: Settings) -> None:
    movies = make_movies(130, START, days=16)

    def report(start: date, end: date, real: int) -> int:  # TMDB says >500 pages for > 4 days
        return 501 if (end - start).days + 1 > 4 else real

    with FakeTMDB(movies, api_key=KEY, total_pages_hook=report) as fake:
        with make_client(settings, fake) as client:
            ids = client.discover_ids(START, START + timedelta(days=15))
        asked = [
            (r.params["primary_release_date.gte"], r.params["primary_release_date.lte"], r.params)
            for r in fake.hits("/discover/movie")
        ]

    def days(lo: str, hi: str) -> int:
        return (date.fromisoformat(hi) - date.fromisoformat(lo)).days + 1

    windows = {(lo, hi) for lo, hi, _ in asked}
    assert len(ids) == len(set(ids)) == 130
    assert sorted(ids) == sorted(m["id"] for m in movies)
    assert ("2024-01-01", "2024-01-16") in windows  # asked once, found too big, split
    assert {("2024-01-01", "2024-01-04"), ("2024-01-13", "2024-01-16")} <= windows
    # a window reported past the cap is asked for page 1 only, then each of its halves is asked
    for lo, hi in (w for w in windows if days(*w) > 4):
        assert [params["page"] for a, b, params in asked if (a, b) == (lo, hi)] == ["1"]
        mid = date.fromisoformat(lo) + timedelta(days=(days(lo, hi) - 1) // 2)
        assert {(lo, mid.isoformat()), ((mid + timedelta(days=1)).isoformat(), hi)} <= windows
    # pages past the first are read only from windows that fit the cap (here: <= 4 days) ...
    later = {(lo, hi) for lo, hi, params in asked if params["page"] != "1"}
    assert later and all(days(*w) <= 4 for w in later)
    # ... and those windows cover the requested 16 days exactly once: none skipped, none twice
    covered = [
        date.fromisoformat(lo) + timedelta(days=n)
        for lo, hi in sorted(w for w in windows if days(*w) <= 4)
        for n in range(days(lo, hi))
    ]
    assert covered == [START + timedelta(days=n) for n in range(16)]


def test_single_day_past_the_cap_is_truncated_loudly(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(TMDBClient, "max_pages", 2)  # 40 results per query instead of 10,000
    movies = [make_movie(i, START) for i in range(1, 71)] + [
        make_movie(i, START + timedelta(days=1)) for i in range(71, 81)
    ]
    with FakeTMDB(movies, api_key=KEY) as fake, make_client(settings, fake) as client:
        result = client.collect(START, START + timedelta(days=1))

    assert result.truncated_windows == [TruncatedWindow("2024-01-01..2024-01-01", 70, 40)]
    assert result.truncated_windows[0].shortfall == 30
    assert result.ids == list(range(1, 41)) + list(range(71, 81))
    assert not result.complete
    assert result.summary().startswith("INCOMPLETE")
    assert "~30 results past the 2-page cap are NOT collected" in caplog.text


@pytest.mark.slow
def test_429_waits_for_retry_after_then_succeeds(settings: Settings, fake: FakeTMDB) -> None:
    fake.inject("/movie/7", Fault.rate_limited(retry_after="1"))
    with make_client(settings, fake) as client:
        began = time.monotonic()
        detail = client.movie_details(7)
        elapsed = time.monotonic() - began
    assert detail is not None and detail["id"] == 7
    assert len(fake.hits("/movie/7")) == 2
    assert 0.95 <= elapsed < 3  # backoff_base is 0.01 s: only Retry-After explains the wait


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after(later) or 0) <= 30


def test_5xx_then_success(settings: Settings, fake: FakeTMDB) -> None:
    fake.inject("/discover/movie", Fault.error(500), Fault.error(503), where={"page": "1"})
    with make_client(settings, fake) as client:
        ids = client.discover_ids(START, START + timedelta(days=4))
    assert len(ids) == 50
    assert len(fake.hits("/discover/movie")) == 3 + 2


def test_hanging_response_times_out_then_succeeds(settings: Settings, fake: FakeTMDB) -> None:
    fake.inject("/movie/2", Fault.hang(3.0))
    with make_client(settings, fake, tmdb_timeout_seconds=0.3) as client:
        began = time.monotonic()
        detail = client.movie_details(2)
        elapsed = time.monotonic() - began
    assert detail is not None and detail["id"] == 2
    assert len(fake.hits("/movie/2")) == 2
    assert 0.3 <= elapsed < 2.0  # cut at the timeout, not after the 3 s hang


def test_connection_reset_then_success(settings: Settings, fake: FakeTMDB) -> None:
    fake.inject("/movie/3", Fault.connection_reset(), Fault.connection_reset())
    with make_client(settings, fake) as client:
        detail = client.movie_details(3)
    assert detail is not None and detail["id"] == 3
    assert len(fake.hits("/movie/3")) == 3


def test_transient_malformed_pages_are_recovered(settings: Settings, fake: FakeTMDB) -> None:
    fake.inject("/discover/movie", Fault.bad_json(), where={"page": "2"})
    fake.inject("/discover/movie", Fault.json({"page": 3, "results": []}), where={"page": "3"})
    fake.inject("/movie/4", Fault.json({"title": "no id here"}))
    with make_client(settings, fake) as client:
        result = client.collect(START, START + timedelta(days=4))
    assert result.complete
    assert len(result.details) == 50
    assert len(fake.hits("/discover/movie")) == 5
    assert len(fake.hits("/movie/4")) == 2


def test_persistent_malformed_pages_are_reported_never_dropped(
    settings: Settings, fake: FakeTMDB
) -> None:
    fake.inject("/discover/movie", Fault.bad_json(), where={"page": "2"}, repeat=True)
    fake.inject("/movie/5", Fault.json({"title": "no id"}), repeat=True)
    with make_client(settings, fake, tmdb_max_retries=2) as client:
        result = client.collect(START, START + timedelta(days=4))

    assert len(fake.hits("/movie/5")) == 3  # 1 try + 2 retries
    [failed] = result.failed_pages
    assert (failed.window, failed.page) == ("2024-01-01..2024-01-05", 2)
    assert "invalid JSON" in failed.error and "3 attempts" in failed.error
    order = expected_order(list(fake.movies.values()))
    assert result.ids == order[:20] + order[40:]  # pages 1 and 3 still collected
    assert set(result.failed_ids) == {5}
    assert "without an integer `id`" in result.failed_ids[5]
    assert 5 not in [d["id"] for d in result.details]
    assert len(result.details) + len(result.failed_ids) == len(result.ids)
    assert not result.complete
    assert "1 failed ids, 1 failed discover pages" in result.summary()
    assert result.report()["failed_ids"] == {"5": result.failed_ids[5]}


def test_401_is_a_clear_auth_error_without_the_key(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other suites (Airflow, uvicorn) apply dictConfig, which may disable or raise httpx's logger.
    monkeypatch.setattr(logging.getLogger("httpx"), "disabled", False)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    with FakeTMDB(make_movies(5, START, days=1), api_key="the-right-key") as fake:
        with make_client(settings, fake) as client, pytest.raises(TMDBAuthError) as err:
            client.collect(START, START)
        assert len(fake.requests) == 1  # no retries on a bad key
    message = str(err.value)
    assert "401" in message and "TMDB_API_KEY" in message
    assert KEY not in message
    assert KEY not in caplog.text
    assert "api_key=***" in caplog.text  # httpx's request log line, redacted


def test_secrets_never_reach_logs_during_retries(
    settings: Settings, fake: FakeTMDB, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject("/movie/9", Fault.error(502), Fault.connection_reset(), Fault.bad_json())
    with make_client(settings, fake) as client:
        assert client.movie_details(9) is not None
    assert "retrying in" in caplog.text
    assert KEY not in caplog.text


def test_missing_credentials_raise(settings: Settings) -> None:
    with pytest.raises(TMDBAuthError, match=r"TMDB_API_KEY.*TMDB_READ_ACCESS_TOKEN"):
        TMDBClient(settings)


def test_404_on_discover_names_the_base_url(settings: Settings, fake: FakeTMDB) -> None:
    wrong = fake.base_url.removesuffix("/3") + "/v3-typo"
    with (
        make_client(settings, fake, tmdb_base_url=wrong) as client,
        pytest.raises(TMDBNotFoundError, match="TMDB_BASE_URL") as err,
    ):
        client.discover_ids(START, START)
    assert "/v3-typo/discover/movie" in str(err.value)


def test_404_on_a_detail_is_a_vanished_movie(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    movies = make_movies(30, START, days=3)
    with (
        FakeTMDB(movies, api_key=KEY, vanished={4, 17}) as fake,
        make_client(settings, fake) as client,
    ):
        result = client.collect(START, START + timedelta(days=2))
    assert result.missing_ids == [i for i in expected_order(movies) if i in {4, 17}]
    assert len(result.details) == 28 and {4, 17}.isdisjoint(d["id"] for d in result.details)
    assert result.complete  # a vanished movie is news, not a loss
    assert "movie 17 vanished (404)" in caplog.text


@pytest.mark.parametrize("auth", ["api_key", "bearer"])
def test_auth_is_sent_the_way_it_is_configured(settings: Settings, auth: str) -> None:
    token = "v4-read-token-abcdef"
    server = FakeTMDB(make_movies(3, START, days=1), api_key=None, token=None)
    if auth == "bearer":
        server.token = token
        update: dict[str, Any] = {"tmdb_api_key": None, "tmdb_read_access_token": SecretStr(token)}
    else:
        server.api_key = KEY
        update = {}
    with server as fake, make_client(settings, fake, **update) as client:
        result = client.collect(START, START)
    assert len(result.details) == 3
    for request in fake.requests:
        if auth == "bearer":
            assert request.headers["authorization"] == f"Bearer {token}"
            assert "api_key" not in request.params
        else:
            assert request.params["api_key"] == KEY
            assert "authorization" not in request.headers


def test_bearer_wins_when_both_credentials_are_set(settings: Settings, fake: FakeTMDB) -> None:
    fake.token = "tok"
    with make_client(settings, fake, tmdb_read_access_token=SecretStr("tok")) as client:
        assert client.movie_details(1) is not None
    [request] = fake.requests
    assert request.headers["authorization"] == "Bearer tok"
    assert "api_key" not in request.params


def test_rate_limit_spaces_requests_across_workers(settings: Settings) -> None:
    rate = 20.0
    with FakeTMDB(make_movies(12, START, days=1), api_key=KEY) as fake:
        with make_client(settings, fake, tmdb_requests_per_second=rate) as client:
            client.collect(START, START)  # 1 discover + 12 details on 4 threads
        times = sorted(r.t for r in fake.requests)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    span = times[-1] - times[0]
    assert len(times) == 13
    assert span >= 0.9 * 12 / rate  # 0.6 s at 20/s; unthrottled it is a few ms
    assert min(gaps) >= 0.5 / rate
    assert span < 12 / rate + 1.0


def test_too_many_failures_in_a_row_stop_with_the_partial_result(
    settings: Settings, fake: FakeTMDB
) -> None:
    for movie_id in fake.movies:
        fake.inject(f"/movie/{movie_id}", Fault.error(500), repeat=True)
    with make_client(settings, fake, tmdb_max_retries=0) as client:
        client.max_consecutive_failures = 5
        with pytest.raises(TMDBUnavailableError, match="5 requests in a row") as err:
            client.collect(START, START + timedelta(days=4))
    partial = err.value.result
    assert len(partial.failed_ids) == 5 and len(partial.ids) == 50
    assert len(fake.requests) < 3 + 50  # it stopped instead of hammering a dead server


def test_injected_http_client_is_left_open(settings: Settings, fake: FakeTMDB) -> None:
    with httpx.Client() as http:
        with TMDBClient(configure(settings, fake), client=http, progress=False) as client:
            assert client.movie_details(1) is not None
        assert not http.is_closed


def test_empty_window_is_rejected(settings: Settings, fake: FakeTMDB) -> None:
    with make_client(settings, fake) as client, pytest.raises(ValueError, match="empty date"):
        client.discover_ids(START, START - timedelta(days=1))


def test_progress_bar_counts_detail_fetches(
    settings: Settings, fake: FakeTMDB, capsys: pytest.CaptureFixture[str]
) -> None:
    with TMDBClient(configure(settings, fake), backoff_base=0.01, progress=True) as client:
        client.collect(START, START)
    assert "10/10" in capsys.readouterr().err
    with make_client(settings, fake) as client:  # progress=False: silent
        client.collect(START, START)
    assert capsys.readouterr().err == ""
