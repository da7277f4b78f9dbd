"""The serving stack a benchmark runs against: SeaweedFS + a real champion + `moviescore serve`.

Everything binds 127.0.0.1 on free ports and is stopped by PID (SIGTERM, then SIGKILL). The
champion is trained on the shared data with the library (`train.train_candidate` for every
candidate, `promotion.pick_challenger`, `registry.Registry.publish` + `set_champion`), so the API
serves what the pipeline would promote.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from moviescore.ingest.partitions import Splits, label_filter, split_by_years
from moviescore.ingest.snapshot import read_snapshot
from moviescore.local_s3 import LocalS3Server, SeaweedPorts
from moviescore.records import CandidateScore, Metrics, PromotionRecord, build_manifest
from moviescore.registry.store import Registry
from moviescore.training.candidates import CandidateResult, train_candidate
from moviescore.training.promotion import pick_challenger
from moviescore.training.specs import CANDIDATES
from tests.helpers.processes import free_port, running

ROOT = Path(__file__).resolve().parents[1]
# The shared data sits beside the checkout (../shared/data), wherever the checkout is.
DATA = ROOT.parent / "shared" / "data" / "tmdb_movies_before_2014.csv.zip"
BUCKET = "bench"
# The forward split every benchmark trains on: vote_count > 5, train <= 2009, validate 2010-2011,
# test 2012-2013 (the rest of the snapshot).
MIN_VOTES = 5
TRAIN_UNTIL, VAL_UNTIL = 2009, 2011


def forward_split(data: Path = DATA) -> tuple[pd.DataFrame, Splits]:
    """The labelled movies of `data` and their forward split by release year."""
    labelled = label_filter(read_snapshot(data), MIN_VOTES)
    return labelled, split_by_years(labelled, TRAIN_UNTIL, VAL_UNTIL)


def train_candidates(names: tuple[str, ...] = CANDIDATES) -> dict[str, CandidateResult]:
    _, splits = forward_split()
    return {name: train_candidate(name, splits) for name in names}


def scored(result: CandidateResult) -> CandidateScore:
    return CandidateScore(model_name=result.model_name, metrics=Metrics(**result.metrics))


def publish(
    registry: Registry,
    result: CandidateResult,
    note: str = "bench",
    fitted_rows: pd.DataFrame | None = None,
) -> str:
    """A new version of `result` in the registry, made champion; its version id. With the rows
    it was fitted on, the bundle has its comparables index, as the pipeline publishes it."""
    from moviescore.serving.comparables import comparables_files

    manifest = build_manifest(
        scored(result),
        result.pipeline,
        params=result.params,
        run_id=note,
        calibration=result.calibration,
        training_ranges=result.training_ranges,
    )
    extra = None if fitted_rows is None else comparables_files(fitted_rows)
    version = registry.publish(result.pipeline, manifest, extra_files=extra)
    registry.set_champion(version, PromotionRecord(reason=note, promoted=True))
    return version


@dataclass
class Stack:
    """S3 server, registry and (after `start_api`) the API subprocess."""

    workdir: Path
    s3: LocalS3Server
    registry: Registry
    api_port: int = 0
    api: subprocess.Popen[bytes] | None = None
    _running: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start_api(self, poll_seconds: float = 10.0, extra_env: dict[str, str] | None = None) -> str:
        """`moviescore serve` on a free port, pointed at our bucket; waits for /ready. Called
        again, it starts another replica (`api_url` is the latest's); returns its URL."""
        self.api_port = free_port()
        env = (
            os.environ
            | {
                "S3_ENDPOINT_URL": self.s3.endpoint_url,
                "S3_BUCKET": BUCKET,
                "MODEL_POLL_SECONDS": str(poll_seconds),
                "DATA_DIR": str(self.workdir / "data"),
                "WANDB_MODE": "disabled",
            }
            | (extra_env or {})
        )
        cmd = [sys.executable, "-m", "moviescore", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.api_port)]
        log = self.workdir / f"api-{self.api_port}.log"
        self.api = self._running.enter_context(
            running(cmd, f"{self.api_url}/ready", log, env=env, cwd=ROOT)
        )
        return self.api_url

    def stop(self) -> None:
        self._running.close()  # the API, stopped by PID
        self.api = None
        self.s3.stop()


@contextlib.contextmanager
def serving_stack(results: dict[str, CandidateResult] | None = None) -> Iterator[Stack]:
    """A running S3 with a champion published from `results` (trained here if not given)."""
    results = results or train_candidates()
    with tempfile.TemporaryDirectory(prefix="moviescore-bench-") as tmp:
        workdir = Path(tmp)
        s3 = LocalS3Server(workdir / "s3", ports=SeaweedPorts.free(), bucket=BUCKET).start()
        stack = Stack(workdir, s3, Registry(s3.client(), BUCKET))
        try:
            best = pick_challenger([scored(r) for r in results.values()]).model_name
            _, splits = forward_split()
            fitted = pd.concat([splits.train, splits.val], ignore_index=True)
            publish(stack.registry, results[best], fitted_rows=fitted)
            yield stack
        finally:
            stack.stop()


def request_movies(n: int) -> list[dict[str, Any]]:
    """`n` real movies (newest first) as a user would send them to POST /predict."""
    from app.schemas import MAX_LIST_ITEMS, TMDB_GENRES, MovieIn

    raw = read_snapshot(DATA).sort_values("release_date", ascending=False)
    out: list[dict[str, Any]] = []
    for rec in raw.to_dict("records"):
        names = {
            f: [str(x) for x in rec[f] if str(x).strip()][:MAX_LIST_ITEMS]
            for f in ("genres", "keywords", "production_companies")
        }
        codes = {
            f: [str(x) for x in rec[f] if str(x).isalpha()][:MAX_LIST_ITEMS]
            for f in ("production_countries", "spoken_languages")
        }
        movie = {
            "title": rec["title"],
            "overview": rec["overview"] or "",
            "tagline": rec["tagline"],
            "original_language": rec["original_language"],
            # TMDB's 0 means unknown, which the API takes as null
            "runtime": rec["runtime"]
            if rec["runtime"] == rec["runtime"] and rec["runtime"]
            else None,
            "budget": None if rec["budget"] != rec["budget"] else rec["budget"],
            "release_date": rec["release_date"],
            "homepage": rec["homepage"],
            **names,
            **codes,
        }
        movie["genres"] = [g for g in movie["genres"] if g in TMDB_GENRES]  # not retired "Foreign"
        try:
            out.append(MovieIn.model_validate(movie).model_dump(mode="json"))
        except ValueError:
            continue  # a row the API would refuse with 422 is no load-test body
        if len(out) == n:
            return out
    raise ValueError(f"only {len(out)} valid movies in {DATA}, {n} asked")
