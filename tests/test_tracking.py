"""W&B tracking: offline runs land on disk, and no W&B failure ever reaches training."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moviescore.config import Settings, get_settings
from moviescore.training import tracking
from tests.helpers.processes import free_port

WANDB_CLI = Path(sys.executable).parent / "wandb"
METRICS = {"train_rmse": 0.61, "val_rmse": 0.74, "test_rmse": 0.79, "rmse_gap": 0.18}


@pytest.fixture
def offline(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WANDB_MODE", "offline")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.joblib"
    path.write_bytes(b"not really a model, but bytes W&B must carry")
    return path


def _candidate(
    settings: Settings, model_file: Path | None, name: str = "xgboost"
) -> tracking.TrackedRun | None:
    return tracking.log_candidate(
        model_name=name,
        params={"n_estimators": 50, "max_depth": 4},
        metrics=METRICS,
        feature_importances={f"feature_{i}": float(i) for i in range(30)},
        test_true=[6.1, 7.0, 5.5, 8.2],
        test_pred=[6.3, 6.8, 5.9, 7.6],
        model_path=model_file,
        group="2026-11-22-abc",
        settings=settings,
        extra_config={"data_fingerprint": "f00d"},
    )


def _records(run_dir: Path) -> list[dict]:
    """Read an offline run's binary log with the W&B CLI (no network)."""
    out = subprocess.run(
        [str(WANDB_CLI), "leet", "inspect", "--json", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _run_dir(settings: Settings, run_id: str) -> Path:
    dirs = list((settings.data_dir / "wandb" / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.mark.slow
def test_offline_candidate_run_lands_on_disk(offline: Settings, model_file: Path) -> None:
    tracked = _candidate(offline, model_file)

    assert tracked is not None and tracked.url is None  # offline runs have no page yet
    run_id = tracked.id
    run_dir = _run_dir(offline, run_id)
    assert (run_dir / f"run-{run_id}.wandb").stat().st_size > 0
    saved = json.loads((offline.data_dir / "wandb/metrics/2026-11-22-abc/xgboost.json").read_text())
    assert saved["metrics"] == METRICS
    assert saved["params"] == {"n_estimators": 50, "max_depth": 4}
    assert (saved["wandb_run_id"], saved["wandb_mode"]) == (run_id, "offline")
    assert saved["wandb_url"] is None

    records = _records(run_dir)
    run = next(r["run"] for r in records if r["type"] == "run")
    assert run["run_group"] == "2026-11-22-abc" and run["job_type"] == "train"
    artifacts = [r["artifact"] for r in records if r["type"] == "artifact"]
    model = next(a for a in artifacts if a["type"] == "model")
    assert model["name"] == "xgboost"
    images = list((run_dir / "files" / "media" / "images").glob("*.png"))
    assert {p.name.split("_0_")[0] for p in images} == {"pred_vs_actual", "feature_importance"}


@pytest.mark.slow
def test_promotion_logs_champion_alias(offline: Settings, model_file: Path) -> None:
    decision = {
        "promoted": True,
        "reason": "challenger beats champion by 0.03",
        "champion_version": "20261122T000000-xgboost",
        "candidates": [
            {"model_name": "xgboost", "metrics": METRICS},
            {"model_name": "lightgbm", "metrics": {**METRICS, "val_rmse": 0.75}},
        ],
    }
    run_id = tracking.log_promotion(
        decision=decision,
        group="2026-11-22-abc",
        settings=offline,
        champion_model_name="xgboost",
        champion_artifact_path=model_file,
    )

    assert run_id
    records = _records(_run_dir(offline, run_id))
    run = next(r["run"] for r in records if r["type"] == "run")
    assert run["job_type"] == "promote"
    champion = [r["artifact"] for r in records if r["type"] == "artifact"]
    champion = [a for a in champion if a["type"] == "model"]
    assert len(champion) == 1 and set(champion[0]["aliases"]) == {"champion", "latest"}
    saved = json.loads(
        (offline.data_dir / "wandb/metrics/2026-11-22-abc/promotion.json").read_text()
    )
    assert saved["decision"] == decision and saved["wandb_run_id"] == run_id


@pytest.mark.slow
def test_not_promoted_logs_no_model(offline: Settings, model_file: Path) -> None:
    run_id = tracking.log_promotion(
        decision={"promoted": False, "reason": "gap too large", "candidates": []},
        group="g2",
        settings=offline,
        champion_model_name=None,
        champion_artifact_path=model_file,
    )
    assert run_id
    records = _records(_run_dir(offline, run_id))
    assert not [r for r in records if r["type"] == "artifact" and r["artifact"]["type"] == "model"]


@pytest.mark.slow
def test_unreachable_wandb_returns_none_in_bounded_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "3")
    get_settings.cache_clear()
    online = get_settings()
    assert online.effective_wandb_mode == "online"

    start = time.monotonic()
    assert _candidate(online, model_file) is None
    assert time.monotonic() - start < 20
    saved = json.loads((online.data_dir / "wandb/metrics/2026-11-22-abc/xgboost.json").read_text())
    assert saved["metrics"] == METRICS and saved["wandb_run_id"] is None  # metrics kept anyway


@pytest.mark.slow
def test_online_without_key_returns_none(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "3")  # W&B may reuse an earlier key in-process
    get_settings.cache_clear()
    start = time.monotonic()
    assert _candidate(get_settings(), model_file) is None
    assert time.monotonic() - start < 20


def test_bad_mode_returns_none(settings: Settings, model_file: Path) -> None:
    broken = settings.model_copy(update={"wandb_mode": "sometimes"})  # skips validation on purpose
    assert _candidate(broken, model_file) is None


def test_missing_wandb_package_returns_none(
    offline: Settings, monkeypatch: pytest.MonkeyPatch, model_file: Path
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` raise ImportError
    assert _candidate(offline, model_file) is None
    assert (
        tracking.log_promotion(
            decision={"promoted": True},
            group="g",
            settings=offline,
            champion_model_name="xgboost",
            champion_artifact_path=model_file,
        )
        is None
    )


def test_disabled_is_a_quick_none(settings: Settings, model_file: Path) -> None:
    assert settings.effective_wandb_mode == "disabled"  # conftest default
    start = time.monotonic()
    assert _candidate(settings, model_file) is None
    assert time.monotonic() - start < 1
    assert not (settings.data_dir / "wandb").exists()
