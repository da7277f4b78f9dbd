"""Smoke tests of the benchmark harness: report sections, the seed recipe, wrk, profiles."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench import profile
from bench.hot_swap import analyse, converged
from bench.quality import ABLATIONS, _sentiment_note
from bench.report import Target, replace_section, save_results, write_section
from bench.rss import PeakRss
from bench.stack import DATA
from moviescore.training.seed_recipe import SeedRecipe
from tests.helpers.movies import learnable_frame
from tests.helpers.processes import free_port, running

ROOT = Path(__file__).resolve().parents[1]


def test_replace_section_inserts_then_replaces_only_its_own_block() -> None:
    text = "# Benchmarks\n\nhand-written intro\n"
    text = replace_section(text, "serving", "serving v1")
    text = replace_section(text, "quality", "quality v1")  # before serving: ORDER is kept
    assert text.index("quality v1") < text.index("serving v1")
    text = replace_section(text, "serving", "serving v2")
    assert "serving v1" not in text and "serving v2" in text
    assert "quality v1" in text and "hand-written intro" in text
    assert text.count("<!-- bench:serving -->") == 1 == text.count("<!-- /bench:serving -->")


def test_replace_section_refuses_odd_names() -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        replace_section("", "bad name -->", "x")


def test_save_results_rebuilds_summary_from_every_benchmark(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    write_section("quality", "quality body", report)
    save_results("quality", [Target("ratio ≤ 0.90", "0.85", True)], {"x": 1}, report)
    save_results("serving", [Target("p99 ≤ 10 ms", "12 ms", False, "GIL")], {}, report)
    text = report.read_text()
    assert "| quality | ratio ≤ 0.90 | 0.85 | met |" in text
    assert "| serving | p99 ≤ 10 ms | 12 ms | **missed** | GIL |" in text
    assert "| hot_swap | — | not run yet |" in text
    assert "quality body" in text
    assert (
        json.loads((tmp_path / "bench" / "serving.json").read_text())["targets"][0]["met"] is False
    )


def _movies(n: int, seed: int) -> pd.DataFrame:
    return learnable_frame(n, seed)


def test_seed_recipe_fits_and_survives_unseen_categories() -> None:
    model = SeedRecipe().fit(_movies(60, 0))
    genres = pd.Series([["Western"], [], None, ["Drama"], ["Action"]], dtype=object)
    new = _movies(5, 1).assign(genres=genres)
    new.loc[0, "original_language"] = "xx"
    pred = model.predict(new)
    assert pred.shape == (5,) and np.all((pred >= 0) & (pred <= 10))


def test_ablations_blank_a_copy_not_the_input() -> None:
    df = _movies(4, 2).assign(budget=1e6, keywords=pd.Series([["x"]] * 4, dtype=object))
    out = ABLATIONS["budget"](df)
    assert (out["budget"] == 0).all() and (df["budget"] == 1e6).all()
    assert ABLATIONS["keywords"](df)["keywords"].map(len).sum() == 0


def test_sentiment_note_names_every_sentiment_feature() -> None:
    note = _sentiment_note(["budget", "overview_polarity", "overview_subjectivity"])
    assert "(overview_polarity, overview_subjectivity)" in note
    assert "not a model input" in _sentiment_note(["budget", "overview_words"])


def test_peak_rss_sees_memory_freed_before_the_block_ends() -> None:
    size = 64 * 2**20
    with PeakRss(every=0.01) as rss:
        before = rss.peak
        block = np.ones(size // 8)  # written, so resident; freed (unmapped) below
        time.sleep(0.2)
        del block
        time.sleep(0.05)
    assert rss.peak - before >= size * 0.9


def test_hot_swap_analysis_finds_first_answer_and_failures() -> None:
    log: list[list[Any]] = [
        [10.0, 200, "v0"],
        [10.5, 200, "v1"],
        [11.0, 503, None],
        [12.0, 200, "v2"],
    ]
    rows = analyse(log, [(10.2, "v1"), (11.5, "v2"), (12.5, "v3")])
    assert rows[0]["delay_s"] == pytest.approx(0.3) and rows[0]["failed"] == 1
    assert rows[1]["delay_s"] == pytest.approx(0.5) and rows[1]["failed"] == 0
    assert rows[2]["delay_s"] is None


def test_replicas_converge_when_the_slowest_one_serves_the_new_version() -> None:
    swaps = [(10.0, "v1"), (20.0, "v2")]
    fast = analyse([[10.4, 200, "v1"], [20.2, 200, "v2"]], swaps)
    slow = analyse([[11.5, 200, "v1"], [20.1, 503, None], [21.0, 200, "v1"]], swaps)
    rows = converged([fast, slow])
    assert rows[0]["delay_s"] == pytest.approx(1.5)
    assert rows[0]["replica_delays_s"] == [pytest.approx(0.4), pytest.approx(1.5)]
    assert rows[1]["delay_s"] is None  # the slow replica never served v2: not converged
    assert rows[1]["failed"] == 1 and rows[1]["requests"] == 3


def test_profile_charges_innermost_matching_component(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "run (uvicorn/main.py:1);predict (app/routes/predict.py:9);"
        "transform (moviescore/features.py:3);_call (textblob/_text.py:7) 3\n"
        "run (uvicorn/main.py:1);predict (app/routes/predict.py:9);"
        "predict (lightgbm/sklearn.py:2);dot (numpy/core.py:1) 1\n"
    )
    assert profile.shares(raw) == {"TextBlob sentiment": 0.75, "model predict": 0.25}
    assert profile.top_frames(raw, 1) == [("_call (textblob/_text.py)", 0.75)]


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed")
def test_wrk_point_against_the_bare_app(tmp_path: Path) -> None:
    from bench.serving import run_wrk

    port = free_port()
    command = [sys.executable, "-m", "bench.bare_app", "--port", str(port)]
    with running(command, f"http://127.0.0.1:{port}/ready", tmp_path / "bare.log", cwd=ROOT):
        body = tmp_path / "body.json"
        body.write_text(json.dumps({"title": "x"}))
        point = run_wrk(f"http://127.0.0.1:{port}/predict", body, 2, 1)
    assert point["requests"] > 0 and point["errors"] == 0
    assert 0 < point["p50_ms"] <= point["p99_ms"]


@pytest.mark.skipif(not DATA.exists(), reason="shared data absent")
def test_resampled_snapshot_reads_back_with_new_unique_ids(tmp_path: Path) -> None:
    from bench.pipeline_cost import write_snapshot
    from moviescore.ingest.snapshot import read_snapshot

    df = read_snapshot(write_snapshot(6000, tmp_path / "big.csv"))  # > 4,244: resampled
    assert len(df) == 6000 and df["id"].is_unique
