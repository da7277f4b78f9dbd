"""Fixtures shared by every test family. Area-specific fixtures live beside their tests."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moviescore.config import Settings, get_settings
from tests.helpers.s3 import local_s3_server, use_s3

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TMDB_5000_ZIP = SHARED_DATA / "tmdb_movies_before_2014.csv.zip"
TMDB_DETAILS_CSV = SHARED_DATA / "tmdb_details_sample_2026-01-28.csv"

# Tests never talk to the real W&B or the real TMDB, whatever the developer's shell says.
os.environ["WANDB_MODE"] = "disabled"
os.environ.pop("WANDB_API_KEY", None)
os.environ.pop("TMDB_API_KEY", None)
os.environ.pop("TMDB_READ_ACCESS_TOKEN", None)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh data dir, which is also the data store (DATA_STORE=local: no
    S3 needed); `s3_settings` moves the data into a bucket. Env overrides set by a test win
    after cache_clear."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATA_STORE", "local")
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tmdb_5000_zip() -> Path:
    if not TMDB_5000_ZIP.exists():
        pytest.skip(f"shared data absent: {TMDB_5000_ZIP}")
    return TMDB_5000_ZIP


@pytest.fixture(scope="session")
def tmdb_details_csv() -> Path:
    if not TMDB_DETAILS_CSV.exists():
        pytest.skip(f"shared data absent: {TMDB_DETAILS_CSV}")
    return TMDB_DETAILS_CSV


# --- S3: one real SeaweedFS per session, one fresh bucket per test -----------------------------


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real S3 server for the whole session: SeaweedFS `weed mini` via `LocalS3Server`.

    Bound to 127.0.0.1 on ten free ports (so it coexists with a demo `moviescore s3` on 8333),
    started once (~1 s), stopped by PID at session end. Credentials are the embedded defaults
    `config.LOCAL_S3_ACCESS_KEY/SECRET_KEY`; `seaweedfs.endpoint_url`, `.client()`, `.pid`.
    Missing buckets are errors (no auto-create), as on AWS. Skips if `weed` is not installed.
    Most tests want `s3_settings` (a fresh bucket) rather than this directly.
    """
    with local_s3_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_settings(
    settings: Settings, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """`settings` pointed at a fresh, empty bucket on the session's SeaweedFS.

    Sets S3_ENDPOINT_URL, S3_BUCKET and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (so a developer's
    AWS environment never leaks in) and unsets MODEL_SIGNING_KEY; `get_settings()` returns the
    same object, so `Registry.from_settings()`, the API and the pipeline all see this bucket.
    A test that wants signing sets MODEL_SIGNING_KEY with monkeypatch and calls
    `get_settings.cache_clear()`. The bucket and its objects are deleted afterwards.
    """
    from moviescore.registry.s3 import ensure_bucket

    bucket = f"test-{uuid.uuid4().hex[:12]}"
    client = seaweedfs.client()
    ensure_bucket(client, bucket)
    yield use_s3(monkeypatch, seaweedfs, bucket)
    get_settings.cache_clear()
    with contextlib.suppress(Exception):  # SeaweedFS deletes a non-empty bucket with its objects
        client.delete_bucket(Bucket=bucket)


@pytest.fixture(params=["local", "s3"])
def store_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """`settings` with the pipeline's data in DATA_DIR (local) or in a fresh bucket (s3): a test
    of the data store's users runs once on each."""
    if request.param == "s3":
        return request.getfixturevalue("s3_settings")  # type: ignore[no-any-return]
    return settings
