"""What a step is asked to do: the logical date and the source, checked before any work.

A mistake that retrying cannot fix is a `ConfigurationError` saying what to change (the DAG fails
such a task at once, without retries)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from moviescore.config import ConfigurationError, Settings
from moviescore.steps import collect_step, resolve_ds, source_of


def test_a_run_without_a_logical_date_uses_its_own_time() -> None:
    run_after = datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
    assert resolve_ds(None, run_after) == "2026-11-30"
    assert resolve_ds("None", run_after) == "2026-11-30"  # str(None) from a templated field
    assert resolve_ds("2026-11-22", run_after) == "2026-11-22"
    assert resolve_ds(None, "2026-11-30T17:05:00+00:00") == "2026-11-30"


@pytest.mark.parametrize("bad", ["22/11/2026", "2026-02-30", None])
def test_a_bad_date_is_a_configuration_error(bad: str | None) -> None:
    with pytest.raises(ConfigurationError, match="date"):
        resolve_ds(bad)


def test_a_snapshot_alone_means_source_snapshot(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_text("id\n")
    assert source_of(None, str(path), settings) == "snapshot"
    assert source_of(None, None, settings) == "sample"  # no TMDB key here


@pytest.mark.parametrize(
    ("source", "snapshot", "message"),
    [
        ("snapshot", None, "source 'snapshot' needs a file"),
        ("snapshot", "/nonexistent/movies.csv", "does not exist"),
        ("sample", "movies.csv", "use source 'snapshot', or leave the snapshot empty"),
        ("ftp", None, "unknown source 'ftp'"),
    ],
)
def test_impossible_combinations_say_what_to_change(
    settings: Settings, source: str, snapshot: str | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        source_of(source, snapshot, settings)


def test_an_unreadable_snapshot_fails_as_configuration(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "movies.zip"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ConfigurationError, match="cannot read the snapshot"):
        collect_step("2026-11-22", None, str(path))
    assert not settings.raw_dir.exists()  # nothing written


@pytest.mark.slow
def test_s3_is_checked_before_any_training(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 down: preprocess fails in seconds, before a model is fitted (not at promote)."""
    import time

    from moviescore.config import get_settings
    from moviescore.registry.s3 import S3Unavailable
    from moviescore.steps import preprocess_step
    from tests.helpers.processes import free_port

    monkeypatch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens
    get_settings.cache_clear()
    began = time.monotonic()
    with pytest.raises(S3Unavailable, match="unreachable"):
        preprocess_step("2026-11-22")
    assert time.monotonic() - began < 30
    assert not (get_settings().data_dir / "datasets").exists()


def test_a_missing_bucket_is_a_configuration_error(s3_settings: Settings) -> None:
    from moviescore.registry.store import Registry
    from moviescore.steps import check_registry

    registry = Registry.from_settings(s3_settings)
    registry.bucket = registry.store.name = "no-such-bucket-here"
    with pytest.raises(ConfigurationError, match="does not exist"):
        check_registry(registry)
