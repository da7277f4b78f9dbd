"""Promotion end to end on real components (SeaweedFS, real training, W&B disabled): recipes judged
on held-out rows, the refit shipped, time order, refresh, attempts, one label scale per model,
and two CLI pipelines racing on one bucket."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from moviescore.config import Settings, get_settings
from moviescore.ingest.partitions import SPLITS, write_partition
from moviescore.records import CandidateScore, Metrics, build_manifest
from moviescore.registry.store import Registry
from moviescore.steps import (
    collect_step,
    load_splits,
    preprocess_step,
    promote_step,
    run_all,
    train_step,
)
from moviescore.storage import DataStore
from moviescore.training.candidates import evaluate
from moviescore.training.features import make_pipeline
from moviescore.training.specs import CANDIDATES, spec
from tests.helpers.live import REPO
from tests.helpers.registry import assert_chain

pytestmark = pytest.mark.integration


def snapshot(tmdb_5000_zip: Path, folder: Path, rows: int, seed: int = 3) -> Path:
    path = folder / f"movies-{rows}-{seed}.csv"
    pd.read_csv(tmdb_5000_zip).sample(rows, random_state=seed).to_csv(path, index=False)
    return path


def test_the_champion_is_judged_by_its_recipe_not_by_an_artifact_that_saw_the_test_rows(
    s3_settings: Settings, tmdb_5000_zip: Path, tmp_path: Path
) -> None:
    ds = "2026-11-22"
    collect_step(ds, "snapshot", str(snapshot(tmdb_5000_zip, tmp_path, 1200)))
    data = preprocess_step(ds)
    splits = load_splits(data["dataset"], DataStore.from_settings(s3_settings))
    # A champion whose artifact learned every row of today's split, test rows included: a
    # memorising forest. Re-scored as an artifact it would look unbeatable; its recipe (a few
    # fully grown trees), fitted honestly, is clearly worse than today's candidates.
    recipe = {"n_estimators": 5, "max_depth": None, "max_leaf_nodes": None,
              "min_samples_leaf": 1, "max_features": 1.0}  # fmt: skip
    every_row = pd.concat(list(splits), ignore_index=True)
    artifact = make_pipeline(spec("random_forest").build(**recipe)).fit(
        every_row.to_dict("records"), every_row["vote_average"].to_numpy()
    )
    seen_rmse = evaluate(artifact, splits.test)["rmse"]
    registry = Registry.from_settings(s3_settings)
    old = registry.publish(
        artifact,
        build_manifest(
            CandidateScore(model_name="random_forest", metrics=Metrics(test_rmse=seen_rmse)),
            artifact,
            params=recipe,
            run_id="run-2026-11-21",
            ds="2026-11-21",
            data_fingerprint="older",
        ),
    )
    registry.set_champion(old, {"reason": "the old champion"})

    decision = promote_step(ds, [train_step(ds, name) for name in CANDIDATES])
    judged = decision["champion_recipe"]
    assert judged["model_name"] == "random_forest"
    honest = judged["metrics"]["test_rmse"]  # the recipe fitted on train, scored on unseen rows
    assert honest > seen_rmse + 0.2, (honest, seen_rmse)
    assert decision["previous_champion_test_rmse"] == honest
    best = min(c["metrics"]["test_rmse"] for c in decision["candidates"])
    assert decision["promoted"] is True and decision["action"] == "promote", decision["reason"]
    assert best < honest - 0.005
    # what shipped: the challenger's recipe refitted on every labelled row, checked
    shipped = decision["shipped"]
    assert shipped["rows"] == sum(data[s] for s in SPLITS)
    assert shipped["check"]["refit_test_rmse"] <= shipped["check"]["judged_test_rmse"] + 0.05
    manifest = registry.manifest(decision["champion_version"])
    assert manifest.ds == ds and manifest.data is not None
    assert manifest.data.label_scale == "tmdb_vote_average" and not manifest.demo
    assert manifest.data.sources == {"tmdb_snapshot": data["labelled"]}
    assert set(manifest.data.release_dates) == set(SPLITS)
    assert manifest.params.get("refit_rounds") or manifest.model_name == "random_forest"
    assert assert_chain(registry) == [old, decision["champion_version"]]


def test_time_order_refresh_and_attempts(
    s3_settings: Settings,
    tmdb_5000_zip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry.from_settings(s3_settings)
    first = run_all("2026-11-30", "snapshot", str(snapshot(tmdb_5000_zip, tmp_path, 700)))
    champion = first["decision"]["champion_version"]
    assert first["decision"]["promoted"] and champion

    # a backfill of an older date evaluates, it never replaces the serving model
    older = run_all("2026-11-20", "snapshot", str(snapshot(tmdb_5000_zip, tmp_path, 700, 4)))
    assert older["decision"]["promoted"] is False and older["decision"]["action"] is None
    assert "older than the champion's training cutoff 2026-11-30" in older["decision"]["reason"]
    assert older["decision"]["candidates"]  # still judged and recorded
    assert (pointer := registry.champion()) is not None and pointer.version == champion

    # the champion's recipe holds (no challenger can beat it by 5 points), the data is newer:
    # the refreshed champion replaces the stale artifact
    monkeypatch.setenv("MIN_RMSE_IMPROVEMENT", "5")
    get_settings.cache_clear()
    more = snapshot(tmdb_5000_zip, tmp_path, 700, 5)
    refresh = run_all("2026-12-01", "snapshot", str(more))["decision"]
    assert refresh["promoted"] is False and refresh["action"] == "refresh", refresh["reason"]
    assert refresh["champion_version"] != champion
    pointer = registry.champion()
    assert pointer is not None and pointer.action == "refresh" and pointer.ds == "2026-12-01"
    assert pointer.previous_version == champion

    again = run_all("2026-12-01", "snapshot", str(more))["decision"]  # same data: nothing new
    assert again["action"] is None and again["champion_version"] == refresh["champion_version"]
    attempts = registry.attempts("run-2026-12-01")
    assert [a.action for a in attempts] == ["refresh", None]  # both kept, none overwritten
    assert assert_chain(registry) == [champion, refresh["champion_version"]]


def test_a_sample_installation_trains_its_next_champion_on_tmdb_rows_only(
    s3_settings: Settings, tmdb_5000_zip: Path, tmp_path: Path
) -> None:
    from moviescore.ingest.omdb_sample import read_sample
    from moviescore.ingest.validate import validate_raw

    # `make run` without a key: the offline sample (IMDb ratings) is collected and serves (a
    # part of it, validated as collect does, to keep the test quick)
    sample = validate_raw(read_sample(), 1.0).valid.sample(900, random_state=1)
    write_partition(sample, "2026-11-20", s3_settings)
    demo = promote_step("2026-11-20", [train_step(preprocess_step("2026-11-20")["ds"], n)
                                       for n in CANDIDATES])  # fmt: skip
    assert demo["promoted"] and demo["data"]["demo"] is True
    assert demo["data"]["label_scale"] == "imdb_rating"
    registry = Registry.from_settings(s3_settings)
    assert (pointer := registry.champion()) is not None and pointer.demo is True
    assert registry.manifest(pointer.version).demo is True

    # a snapshot is added: the next champion learns TMDB ratings only
    ds = "2026-11-21"
    collect_step(ds, None, str(snapshot(tmdb_5000_zip, tmp_path, 700)))  # snapshot alone
    data = preprocess_step(ds)
    assert data["label_scale"] == "tmdb_vote_average" and data["demo"] is False
    assert set(data["sources"]) == {"tmdb_snapshot"}
    assert data["excluded"] == {"omdb_sample": 900}
    decision = promote_step(ds, [train_step(ds, name) for name in CANDIDATES])
    assert decision["champion_version"] != pointer.version, decision["reason"]
    new = registry.champion()
    assert new is not None and not new.demo
    manifest = registry.manifest(new.version)
    assert manifest.data is not None and manifest.data.sources == data["sources"]
    assert not any("Film-Noir" in name for name in manifest.feature_schema)  # no IMDb genres


def test_two_cli_pipelines_started_together_agree_on_one_history(
    s3_settings: Settings, tmdb_5000_zip: Path, tmp_path: Path
) -> None:
    path = snapshot(tmdb_5000_zip, tmp_path, 700)
    procs: list[tuple[subprocess.Popen[bytes], Any]] = []
    for name in ("a", "b"):
        env = dict(os.environ) | {"DATA_DIR": str(tmp_path / name), "WANDB_MODE": "disabled"}
        log = (tmp_path / f"{name}.log").open("wb")
        cmd = [sys.executable, "-m", "moviescore", "pipeline", "--date", "2026-11-22",
               "--source", "snapshot", "--snapshot", str(path)]  # fmt: skip
        procs.append((subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log), log))
    for proc, log in procs:
        assert proc.wait(180) == 0, (tmp_path / "a.log").read_text()[-3000:]
        log.close()
    registry = Registry.from_settings(s3_settings)
    chain = assert_chain(registry)
    attempts = registry.attempts("run-2026-11-22")
    assert len(attempts) >= 2  # both recorded what they decided
    shipped = [a.champion_version for a in attempts if a.action]
    assert shipped == chain  # every version that shipped is a link of the chain, in order
    listed = {v.version for v in registry.list_versions()}
    assert listed == set(chain)  # a promotion that lost left no orphan behind
    for lost in (a for a in attempts if (a.reason or "").startswith("lost the race")):
        assert lost.lost_to and lost.lost_to[-1] in chain and lost.action is None
    for again in (a for a in attempts if (a.attempt or 1) > 1):  # re-decided against the winner
        assert again.previous_champion == again.lost_to[-1]
