"""Shared by the API, UI and browser tests: a small real champion model and live local servers.

Importable as `e2e.live` (tests/ is on sys.path under pytest's default import mode).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sklearn.pipeline import Pipeline

from moviescore.ingest.raw_movie import RAW_COLUMNS
from moviescore.records import CandidateScore, Manifest, Metrics, PromotionRecord, build_manifest
from moviescore.training.features import make_pipeline
from moviescore.training.specs import spec

REPO = Path(__file__).resolve().parents[2]
GENRES = ["Drama", "Comedy", "Action", "Horror", "Documentary", "Science Fiction"]
GOOD_WORDS = ["moving", "brilliant", "beautiful", "honest"]
BAD_WORDS = ["dull", "terrible", "awful", "boring"]


def synthetic_records(n: int = 60, seed: int = 0) -> tuple[list[dict[str, Any]], list[float]]:
    """Raw records whose rating depends on runtime, genre and overview tone, like real ones."""
    rng = random.Random(seed)
    records, ratings = [], []
    for i in range(n):
        genre = rng.choice(GENRES)
        runtime = rng.uniform(80, 180)
        good = rng.random() < 0.5
        words = GOOD_WORDS if good else BAD_WORDS
        rec: dict[str, Any] = dict.fromkeys(RAW_COLUMNS)
        rec |= {
            "id": i,
            "title": f"Film {i}",
            "original_title": f"Film {i}",
            "overview": f"A {rng.choice(words)} story about {genre.lower()} "
            f"and {rng.choice(words)} people.",
            "release_date": f"{rng.randint(1990, 2013)}-{rng.randint(1, 12):02d}-15",
            "runtime": runtime,
            "budget": rng.choice([0, 1e6, 2e7, 1e8]),
            "original_language": rng.choice(["en", "en", "fr"]),
            "genres": [genre],
            "keywords": [],
            "production_companies": [],
            "production_countries": ["US"],
            "spoken_languages": ["en"],
        }
        rating = 5.0 + (runtime - 80) / 50 + (1.0 if good else -1.0) + (genre == "Documentary")
        records.append(rec)
        ratings.append(rating + rng.gauss(0, 0.2))
    return records, ratings


def fit_pipeline(seed: int = 0) -> Pipeline:
    records, ratings = synthetic_records(seed=seed)
    pipeline = make_pipeline(spec("xgboost").build(n_estimators=40, learning_rate=0.2))
    pipeline.fit(records, ratings)
    return pipeline


def manifest_for(pipeline: Pipeline, model_name: str = "xgboost") -> Manifest:
    metrics = Metrics(train_rmse=0.2, val_rmse=0.3, test_rmse=0.31, rmse_gap=0.11)
    return build_manifest(
        CandidateScore(model_name=model_name, metrics=metrics),
        pipeline,
        params={"n_estimators": 40},
        run_id="test-run",
        ds="2026-01-01",
        data_fingerprint="synthetic",
    )


def promote(registry: Any, seed: int = 0, model_name: str = "xgboost") -> str:
    """Fit a small real pipeline, publish it and make it the champion; its version."""
    pipeline = fit_pipeline(seed)
    manifest = manifest_for(pipeline, model_name)
    version: str = registry.publish(pipeline, manifest)
    decision = PromotionRecord(
        promoted=True,
        reason=f"test promotion of seed {seed}",
        run_id=f"run-{seed}",
        challenger=model_name,
        candidates=[
            CandidateScore(model_name=model_name, metrics=manifest.metrics, wandb_run_id=None),
            CandidateScore(
                model_name="lightgbm",
                metrics=Metrics(val_rmse=0.4, test_rmse=0.41),
                wandb_run_id=None,
            ),
        ],
    )
    registry.set_champion(version, decision)
    return version


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: list[str],
    health_url: str,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command`, wait until `health_url` answers 200, and stop it by PID afterwards.

    It runs in `cwd` (default: the log's directory, a test tmp dir, so no developer `.env`).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd or log.parent,
            env=env or dict(os.environ),
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(health_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{health_url} not up after {timeout}s:\n{log.read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)


def api_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
