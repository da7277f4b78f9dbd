"""W&B tracking: what each offline run holds (read back from its `.wandb` log), every W&B file
under DATA_DIR, and no W&B failure ever reaching training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moviescore.config import Settings, get_settings
from moviescore.training import tracking
from moviescore.training.specs import CANDIDATES, spec
from tests.helpers.movies import learnable_frame
from tests.helpers.processes import free_port
from tests.helpers.tmdb_fake import make_movies
from tests.helpers.wandb_offline import OfflineRun, read_run, read_runs

METRICS = {"train_rmse": 0.61, "val_rmse": 0.74, "test_rmse": 0.79, "rmse_gap": 0.18}
CURVE = {"train_rmse": [0.9, 0.7, 0.6], "val_rmse": [0.95, 0.8, 0.78]}
TEST_MOVIES = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "title": ["A", "B", "C", "D"],
        "release_date": ["2012-03-01", "2012-07-01", "2013-01-05", None],
    }
)
PANELS = {
    "pred_vs_actual": "wandb/scatter/v0",
    "residual_by_year": "wandb/line/v0",
    "feature_importance": "wandb/bar/v0",
}


@pytest.fixture
def offline(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WANDB_MODE", "offline")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(autouse=True)
def _restore_wandb_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in tracking.DIRS:  # tracking points them at DATA_DIR for the process
        monkeypatch.delenv(var, raising=False)


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
        learning_curve=CURVE,
        test_movies=TEST_MOVIES,
        test_true=[6.1, 7.0, 5.5, 8.2],
        test_pred=[6.3, 6.8, 5.9, 7.6],
        model_path=model_file,
        dataset=None,
        group="2026-11-22-abc",
        settings=settings,
        tags=["ds:2026-11-22"],
        extra_config={"data_fingerprint": "f00d"},
    )


def _run(settings: Settings, run_id: str) -> OfflineRun:
    dirs = list((settings.data_dir / "wandb" / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(dirs) == 1, dirs
    return read_run(dirs[0])


def _table(run_dir: Path, key: str) -> dict:
    (path,) = (run_dir / "files" / "media" / "table").glob(f"{key}_*.table.json")
    return json.loads(path.read_text())


@pytest.mark.slow
def test_offline_candidate_run_holds_curve_tables_charts_and_model(
    offline: Settings, model_file: Path
) -> None:
    tracked = _candidate(offline, model_file)

    assert tracked is not None and tracked.url is None  # offline runs have no page yet
    run = _run(offline, tracked.id)
    assert (run.group, run.job_type, run.name) == (
        "2026-11-22-abc", "train", "xgboost-2026-11-22-abc-attempt-1"
    )  # fmt: skip
    assert set(run.tags) == {"xgboost", "ds:2026-11-22"}
    assert run.config["data_fingerprint"] == "f00d" and run.config["attempt"] == 1
    assert run.config["n_estimators"] == 50 and run.config["model_name"] == "xgboost"
    assert {k: run.summary[k] for k in METRICS} == METRICS
    curve = [h for h in run.history if "round" in h]
    assert [h["round"] for h in curve] == [1, 2, 3]
    assert [h["curve/val_rmse"] for h in curve] == CURVE["val_rmse"]
    assert [h["curve/train_rmse"] for h in curve] == CURVE["train_rmse"]
    for key, chart in PANELS.items():
        assert run.config[f"_wandb/visualize/{key}"]["panel_config"]["panelDefId"] == chart
    run_dir = next((offline.data_dir / "wandb" / "wandb").glob(f"*-{tracked.id}"))
    predictions = _table(run_dir, "predictions")
    assert predictions["columns"] == [
        "id",
        "title",
        "release_year",
        "true",
        "predicted",
        "residual",
    ]
    assert predictions["data"][0][:3] == [1, "A", 2012]
    assert predictions["data"][0][5] == pytest.approx(6.1 - 6.3)  # residual = actual - predicted
    by_year = _table(run_dir, "residual_by_year_table")
    assert [row[0] for row in by_year["data"]] == [2012, 2013]  # the undated movie is left out
    importance = _table(run_dir, "feature_importance_table")
    assert len(importance["data"]) == 20 and importance["data"][0] == ["feature_29", 29.0]
    assert not (run_dir / "files" / "media" / "images").exists()  # charts, not pictures
    (model,) = run.logged_of_type("model")
    assert (model["name"], model["files"]) == ("tmdb-score-xgboost", ["model.joblib"])
    saved = json.loads((offline.data_dir / "wandb/metrics/2026-11-22-abc/xgboost.json").read_text())
    assert saved["metrics"] == METRICS and saved["attempt"] == 1
    assert (saved["wandb_run_id"], saved["wandb_mode"], saved["wandb_url"]) == (
        tracked.id, "offline", None
    )  # fmt: skip

    again = _candidate(offline, model_file)  # the same group once more: a new attempt
    assert again is not None and again.id != tracked.id
    rerun = _run(offline, again.id)
    assert rerun.name.endswith("-attempt-2") and rerun.config["attempt"] == 2


@pytest.mark.slow
def test_promotion_uses_candidates_and_outputs_the_champion(
    offline: Settings, model_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.joblib"
    other.write_bytes(b"another model")
    decision = {
        "ds": "2026-11-22",
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
        candidate_models={"xgboost": model_file, "lightgbm": other},
        tags=["ds:2026-11-22"],
    )

    assert run_id
    run = _run(offline, run_id)
    assert run.job_type == "promote" and set(run.tags) == {"promote", "ds:2026-11-22"}
    used = {a["name"]: a for a in run.used()}
    assert set(used) == {"tmdb-score-xgboost", "tmdb-score-lightgbm"}
    assert all(a["type"] == "model" and a["user_created"] for a in used.values())
    (champion,) = run.logged_of_type("model")
    assert champion["name"] == "tmdb-score-champion"
    assert set(champion["aliases"]) == {"champion", "latest", "ds-2026-11-22"}
    assert champion["digest"] == used["tmdb-score-xgboost"]["digest"]  # the same bytes
    assert run.summary["promoted"] is True and run.summary["candidates/nrows"] == 2
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
    assert not _run(offline, run_id).logged_of_type("model")


@pytest.mark.slow
def test_log_table_is_one_run_with_the_rows(offline: Settings) -> None:
    rows = [
        {"fold": 2008, "model": "xgboost", "rmse": 0.81, "bias": {"2009": 0.1}},
        {"fold": 2009, "model": "xgboost", "rmse": 0.79, "bias": {"2010": -0.05}},
    ]
    tracked = tracking.log_table("backtest_folds", rows, "backtest-x", offline, job_type="backtest")

    assert tracked is not None
    run = _run(offline, tracked.id)
    assert (run.job_type, run.group) == ("backtest", "backtest-x")
    run_dir = next((offline.data_dir / "wandb" / "wandb").glob(f"*-{tracked.id}"))
    table = _table(run_dir, "backtest_folds")
    assert table["columns"] == ["bias.2009", "bias.2010", "fold", "model", "rmse"]
    assert [r[2] for r in table["data"]] == [2008, 2009]


def _fit_model(name: str) -> tuple[object, dict[str, list[float]], np.ndarray, np.ndarray]:
    from moviescore.training.features import MovieFeatures

    train, val = learnable_frame(300, 1, 2005), learnable_frame(80, 2, 2010, first_id=1000)
    features = MovieFeatures()
    X = features.fit_transform(train, train["vote_average"].to_numpy())
    X_val, y_val = features.transform(val), val["vote_average"].to_numpy()
    model_spec = spec(name)
    model = model_spec.build()
    model_spec.fit(model, X, train["vote_average"].to_numpy(), X_val, y_val)
    return model, model_spec.learning_curve(model), X_val, y_val


@pytest.mark.parametrize("name", CANDIDATES)
def test_learning_curve_is_the_validation_rmse_per_round(name: str) -> None:
    model, curve, X_val, y_val = _fit_model(name)

    assert set(curve) == {"train_rmse", "val_rmse"}
    assert len(curve["train_rmse"]) == len(curve["val_rmse"]) > 1
    assert curve["train_rmse"][-1] < curve["train_rmse"][0]  # it learns the training rows
    model_spec = spec(name)
    best = model_spec.best_iteration(model)
    # the curve at the round the model predicts with is its RMSE on the validation rows
    at = {"xgboost": best, "lightgbm": (best or 0) - 1, "random_forest": -1}[name]
    pred = np.asarray(model_spec.predictor(model)(X_val))
    assert curve["val_rmse"][at] == pytest.approx(np.sqrt(np.mean((pred - y_val) ** 2)), rel=1e-4)


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
    assert tracking.log_table("t", [{"a": 1}], "g", offline) is None


def test_disabled_is_a_quick_none(settings: Settings, model_file: Path) -> None:
    assert settings.effective_wandb_mode == "disabled"  # conftest default
    start = time.monotonic()
    assert _candidate(settings, model_file) is None
    assert time.monotonic() - start < 1
    assert not (settings.data_dir / "wandb").exists()


# --- the whole pipeline, twice, in a process whose HOME is empty --------------------------------

DS = "2024-03-01"
TWO_DAILY_RUNS = """
import sys
from moviescore.steps import run_all
for _ in range(2):
    run_all(sys.argv[1], "snapshot", sys.argv[2])
"""


@pytest.mark.slow
def test_pipeline_runs_link_data_candidates_champion_and_stay_out_of_home(
    s3_settings: Settings, tmp_path: Path
) -> None:
    snapshot = tmp_path / "movies.jsonl"
    movies = [m for y in (2021, 2022, 2023) for m in make_movies(80, date(y, 1, 1), 80, y * 1000)]
    for m in movies:  # a rating the runtime explains, so a candidate beats the mean and promotes
        m["vote_average"] = round(3 + (m["runtime"] - 90) / 10, 1)
    snapshot.write_text("\n".join(json.dumps(m) for m in movies))
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "WANDB_"))}
    env |= {"HOME": str(home), "WANDB_MODE": "offline"}
    subprocess.run(
        [sys.executable, "-c", TWO_DAILY_RUNS, DS, str(snapshot)],
        env=env, cwd=tmp_path, check=True, timeout=300, capture_output=True,
    )  # fmt: skip

    assert not [p for p in home.rglob("*") if "wandb" in str(p).lower()]  # nothing under $HOME
    root = s3_settings.data_dir / "wandb"
    assert any((root / "data" / "artifacts" / "staging").iterdir())  # models wait for a sync
    runs = read_runs(root)
    assert [(r.job_type, r.config["attempt"]) for r in runs] == [
        *(("train", 1),) * 3, ("promote", 1), *(("train", 2),) * 3, ("promote", 2)
    ]  # fmt: skip
    from moviescore.storage import DataStore

    store = DataStore.from_settings(s3_settings)  # the data live in the bucket
    fingerprint = store.get_json(f"datasets/date={DS}/summary.json")["fingerprint"]
    for attempt, (*trains, promote) in enumerate((runs[:4], runs[4:]), start=1):
        datasets = set()
        for run, name in zip(trains, CANDIDATES, strict=True):
            assert run.name == f"{name}-run-{DS}-attempt-{attempt}"
            assert run.group == f"run-{DS}"
            assert set(run.tags) == {name, f"ds:{DS}", "source:tmdb_snapshot"}
            assert (run.config["ds"], run.config["data_fingerprint"]) == (DS, fingerprint)
            candidate = store.get_json(f"candidates/run-{DS}/{name}/candidate.json")
            assert run.summary["test_rmse"] == candidate["metrics"]["test_rmse"]
            rounds = [h["round"] for h in run.history if "curve/val_rmse" in h]
            assert rounds == list(range(1, len(rounds) + 1)) and len(rounds) > 1
            (data,) = run.used()
            assert (data["name"], data["type"]) == ("tmdb-score-dataset", "dataset")
            assert data["files"] == ["test.parquet", "train.parquet", "val.parquet"]
            assert {f"ds-{DS}", f"data-{fingerprint}"} <= set(data["aliases"])
            datasets.add(data["digest"])
            (model,) = run.logged_of_type("model")
            assert model["name"] == f"tmdb-score-{name}"
        assert len(datasets) == 1  # one dataset version feeds all three candidates
        logged = {r.logged_of_type("model")[0]["digest"] for r in trains}
        assert {a["digest"] for a in promote.used()} == logged  # candidates → promote run
        champion = promote.logged_of_type("model")
        if attempt == 1:  # promoted: the champion comes out of the promote run
            assert champion[0]["name"] == "tmdb-score-champion"
            # the shipped model is the winning recipe refitted on every row: a model of its own
            assert "champion" in champion[0]["aliases"] and champion[0]["digest"] not in logged
        else:  # the same data again: no better than the champion, nothing promoted
            assert champion == [] and promote.summary["promoted"] is False
