"""`moviescore step …`: each DAG task as its own process, as separate workers would run it.

Every step gets a fresh, empty DATA_DIR, so nothing passes between them but the bucket of a real
SeaweedFS (and the keys each step prints).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from moviescore.cli import app
from moviescore.config import Settings
from moviescore.registry.store import Registry
from moviescore.storage import DataStore
from tests.helpers.tmdb_fake import learnable_snapshot

DS = "2024-03-01"


def step(args: list[str], env: dict[str, str], cwd: Path) -> Any:
    run = subprocess.run(
        [sys.executable, "-m", "moviescore", "step", *args, "--date", DS],
        capture_output=True, text=True, timeout=240, cwd=cwd, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.mark.integration
def test_the_four_steps_in_four_processes_with_empty_data_dirs_end_with_a_champion(
    s3_settings: Settings, tmp_path: Path
) -> None:
    snapshot = learnable_snapshot(tmp_path / "movies.jsonl")
    base = {k: v for k, v in os.environ.items() if not k.startswith("DATA_")}

    def worker(name: str) -> tuple[dict[str, str], Path]:
        home = tmp_path / name
        home.mkdir()
        # the synthetic films overfit past the default gap limit: these steps test the hand-over
        env = {"DATA_DIR": str(home / "data"), "WANDB_MODE": "disabled", "MAX_RMSE_GAP": "5"}
        return base | env, home

    collected = step(["collect", "--source", "snapshot", "--snapshot", str(snapshot)],
                     *worker("collect"))  # fmt: skip
    assert collected["partition"] == f"raw/date={DS}/movies.parquet"
    prepared = step(["preprocess"], *worker("preprocess"))
    assert prepared["dataset"] == f"datasets/date={DS}" and prepared["test"] > 0
    trained = step(["train"], *worker("train"))
    assert [c["model_name"] for c in trained] == ["xgboost", "lightgbm", "random_forest"]
    assert {c["model_path"] for c in trained} == {
        f"candidates/run-{DS}/{m}/model.joblib" for m in ("xgboost", "lightgbm", "random_forest")
    }
    decided = step(["promote"], *worker("promote"))

    assert decided["promoted"] is True, decided["reason"]
    champion = Registry.from_settings(s3_settings).champion()
    assert champion is not None and champion.version == decided["champion_version"]
    assert {c["model_name"] for c in decided["candidates"]} == {c["model_name"] for c in trained}
    store = DataStore.from_settings(s3_settings)
    assert store.keys("raw") == [collected["partition"]]
    assert {k.rsplit("/", 1)[1] for k in store.keys(prepared["dataset"])} == {
        "train.parquet", "val.parquet", "test.parquet", "summary.json",
    }  # fmt: skip

    # re-running one step on yet another empty machine reads what the others left
    again = step(["train", "--model", "xgboost"], *worker("retrain"))
    first_xgboost = next(c for c in trained if c["model_name"] == "xgboost")
    assert again[0]["metrics"] == first_xgboost["metrics"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect", "--model", "xgboost"], "--model is for `step train` only"),
        (["train", "--model", "catboost"], "'catboost' is not one of xgboost"),
        (["promote", "--source", "sample"], "--source/--snapshot are for `step collect`"),
    ],
)
def test_step_options_that_do_not_fit_are_usage_errors(
    settings: Settings, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["step", *args, "--date", DS])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())  # rich wraps long lines
    assert not settings.data_dir.exists()


def test_promote_before_train_names_what_is_missing(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["step", "promote", "--date", DS])
    assert result.exit_code == 1
    assert isinstance(result.exception, FileNotFoundError)
    assert f"candidates/run-{DS}" in str(result.exception) and "run train first" in str(
        result.exception
    )
