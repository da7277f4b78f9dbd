"""Shared by the API, UI and browser tests: a small real champion model and live local servers.

Importable as `tests.helpers.live`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from moviescore.records import CandidateScore, Manifest, Metrics, PromotionRecord, build_manifest
from moviescore.training.features import make_pipeline
from moviescore.training.specs import spec
from tests.helpers.movies import learnable_records

REPO = Path(__file__).resolve().parents[2]


def fit_pipeline(seed: int = 0) -> Pipeline:
    records, ratings = learnable_records(seed=seed)
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
    """Publish a freshly fitted model and make it the champion; its version id."""
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
