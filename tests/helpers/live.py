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


def fit_pipeline(seed: int = 0, named: bool = False) -> Pipeline:
    records, ratings = learnable_records(seed=seed, named=named)
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


def promote(registry: Any, seed: int = 0, model_name: str = "xgboost", named: bool = False) -> str:
    """Publish a freshly fitted model as the pipeline does (interval calibration, training
    ranges, comparables index) and make it the champion; its version id. `named`: its films
    have keywords and companies (`learnable_records`)."""
    import pandas as pd

    from moviescore.serving.calibration import calibrate
    from moviescore.serving.comparables import comparables_files
    from moviescore.serving.ranges import training_ranges

    pipeline = fit_pipeline(seed, named)
    records, ratings = learnable_records(seed=seed, named=named)
    rows = pd.DataFrame(records).assign(vote_average=ratings)
    manifest = manifest_for(pipeline, model_name).model_copy(
        update={
            "calibration": calibrate(ratings, pipeline.predict(records)),
            "training_ranges": training_ranges(rows),
        }
    )
    version: str = registry.publish(pipeline, manifest, extra_files=comparables_files(rows))
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


def write_kept_run(registry: Any, run_id: str = "run-9", ds: str = "2026-11-30") -> None:
    """A pipeline run that did not promote, scored as the real promotion step records it: three
    candidates (one tracked offline in W&B), the champion re-scored and the mean baseline."""
    registry.write_decision(
        run_id,
        PromotionRecord(
            ds=ds,
            run_id=run_id,
            promoted=False,
            reason="challenger xgboost: test RMSE 0.352 is not better than the champion's "
            "re-score 0.348 on the same test set; the champion stays",
            challenger="xgboost",
            previous_champion_test_rmse=0.348,
            baseline=Metrics(test_rmse=0.912),
            candidates=[
                CandidateScore(
                    model_name="xgboost",
                    metrics=Metrics(val_rmse=0.33, test_rmse=0.352, rmse_gap=0.12),
                    wandb_run_id="k3x9offl",
                ),
                CandidateScore(
                    model_name="lightgbm", metrics=Metrics(val_rmse=0.34, test_rmse=0.361)
                ),
                CandidateScore(
                    model_name="random_forest", metrics=Metrics(val_rmse=0.41, test_rmse=0.43)
                ),
            ],
        ),
    )
