"""The `moviescore` command line end to end: real SeaweedFS, real training, W&B disabled."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from moviescore.cli import app
from moviescore.config import Settings
from moviescore.registry.store import Registry
from moviescore.steps import promote_step
from moviescore.storage import DataStore

pytestmark = pytest.mark.integration
DS = "2026-11-22"


@pytest.fixture
def snapshot(tmp_path: Path, tmdb_5000_zip: Path) -> Path:
    """A small real snapshot (TMDB 5000 layout) so three fits stay quick."""
    path = tmp_path / "movies.csv"
    pd.read_csv(tmdb_5000_zip).sample(600, random_state=3).to_csv(path, index=False)
    return path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_pipeline_promotes_then_keeps_and_predicts_every_row(
    s3_settings: Settings, snapshot: Path, tmdb_details_csv: Path, tmp_path: Path
) -> None:
    first = run("pipeline", "--date", DS, "--source", "snapshot", "--snapshot", str(snapshot))
    for name in ("xgboost", "lightgbm", "random_forest", "mean"):
        assert name in first
    assert "promoted: no champion yet" in first
    champion = Registry.from_settings(s3_settings).champion()
    assert champion is not None and champion.version in first
    # what the API's interval, warnings and comparables are read from travels with the model
    bundle = Registry.from_settings(s3_settings).load(champion.version)
    calibration = bundle.manifest.calibration or {}
    assert calibration["level"] == 0.8 and calibration["q"] > 0
    assert (bundle.manifest.training_ranges or {})["release_year"][1] <= int(DS[:4])
    assert set(bundle.files) == {"comparables.json.gz"}

    second = run("pipeline", "--date", DS, "--source", "snapshot", "--snapshot", str(snapshot))
    assert "not promoted" in second  # same data: an equal model never replaces the champion
    decision = Registry.from_settings(s3_settings).decision(f"run-{DS}")
    assert decision is not None
    assert decision.promoted is False and decision.champion_version == champion.version
    store = DataStore.from_settings(s3_settings)
    assert store.keys("raw") == [f"raw/date={DS}/movies.parquet"]  # one partition for the date

    # each candidate's W&B link reaches the decision (the UI's W&B column reads it from there)
    keys = [k for k in store.keys(f"candidates/run-{DS}") if k.endswith("/candidate.json")]
    candidates = [store.get_json(k) for k in keys]
    assert len(candidates) == 3
    for cand in candidates:  # W&B is disabled in tests: give each run the link an online one has
        cand["wandb_run_id"] = f"run-of-{cand['model_name']}"
        cand["wandb_url"] = f"https://wandb.ai/team/tmdb/runs/run-of-{cand['model_name']}"
    kept = promote_step(DS, candidates)
    assert kept["promoted"] is False
    linked = [(c["model_name"], c["wandb_run_id"], c["wandb_url"]) for c in kept["candidates"]]
    assert linked == [(c["model_name"], c["wandb_run_id"], c["wandb_url"]) for c in candidates]

    out = tmp_path / "predictions.csv"
    run("predict", "--input", str(tmdb_details_csv), "--output", str(out))
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["id", "predicted_rating"]
    assert len(predictions) == len(pd.read_csv(tmdb_details_csv))
    assert predictions["predicted_rating"].between(0, 10).all()

    listing = run("models", "list")
    assert "*" in listing and (champion.model_name or "?") in listing
    assert "tmdb" in listing and "11-22" in listing  # what it learned, up to when (folded)
    runs = run("models", "runs")
    assert runs.count(f"run-{DS}") == 3  # the first run, the re-run, the promote above
    shown = run("models", "show")
    assert champion.version in shown and "sha256" in shown


def test_rollback_without_an_earlier_champion_is_a_clear_error(s3_settings: Settings) -> None:
    result = CliRunner().invoke(app, ["models", "rollback"])
    assert result.exit_code != 0
    assert "no earlier champion" in str(result.exception)


def test_collect_twice_leaves_one_partition_with_the_same_rows(
    settings: Settings, snapshot: Path
) -> None:
    outputs = [
        json.loads(
            run("collect", "--date", DS, "--source", "snapshot", "--snapshot", str(snapshot))
        )
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]
    assert outputs[0]["rows"] + outputs[0]["rejected"] == 600
    partitions = list(settings.raw_dir.glob("date=*/movies.parquet"))
    assert len(partitions) == 1
    assert len(pd.read_parquet(partitions[0])) == outputs[0]["rows"]


@pytest.mark.parametrize("bad", ["22/11/2026", "2026-02-30"])
def test_a_bad_date_is_a_usage_error_before_any_work(settings: Settings, bad: str) -> None:
    result = CliRunner().invoke(app, ["collect", "--date", bad, "--source", "sample"])
    assert result.exit_code == 2, result.output  # click's usage error, not a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Invalid value for '--date'" in result.output
    assert f"'{bad}' is not a date" in result.output
    assert not settings.data_dir.exists()  # nothing collected, nothing written
