"""Fixtures shared by every test family. Area-specific fixtures live beside their tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from moviescore.config import Settings, get_settings

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
    """Settings pointing at a fresh data dir; env overrides set by a test win after cache_clear."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
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
