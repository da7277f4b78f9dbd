"""Hostile registry records (issue 15, class 4 and the registry half of class 3), written into a
real SeaweedFS bucket with boto3, against every reader: a live API (`moviescore serve`), the
`moviescore models` command (a subprocess) and the Streamlit Models page (AppTest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from reliability.probes import wait_for

from tests.helpers import live
from tests.helpers.processes import free_port, running

pytestmark = pytest.mark.integration

BAD_HISTORY = "models/history/29990101T000000000000Z-broken.json"
BAD_RUN = "runs/run-bad/decision.json"
CHAMPION = "models/champion.json"


@dataclass
class Hostile:
    env: dict[str, str]  # a command's environment, pointed at the bucket
    registry: Any
    good: str  # the champion, a sound version

    def put(self, key: str, body: bytes) -> None:  # boto3 directly: no registry check applies
        self.registry.client.put_object(Bucket=self.registry.bucket, Key=key, Body=body)

    def serve(self, tmp_path: Path, ready: bool = True) -> Any:
        """`moviescore serve` polling every 0.2 s; waits for /ready (or only /health)."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "moviescore", "serve", "--port", str(port)]
        log = tmp_path / f"api-{port}.log"
        env = self.env | {"MODEL_POLL_SECONDS": "0.2"}
        return url, running(command, f"{url}/{'ready' if ready else 'health'}", log, env=env)


@pytest.fixture
def hostile(seaweedfs: Any, tmp_path: Path) -> Iterator[Hostile]:
    """A fresh bucket with a small real champion and a kept run."""
    from moviescore.registry.s3 import ensure_bucket
    from moviescore.registry.store import Registry

    bucket = f"records-{uuid.uuid4().hex[:8]}"
    client = seaweedfs.client()
    ensure_bucket(client, bucket)
    registry = Registry(client, bucket)
    good = live.promote(registry)
    live.write_kept_run(registry, "run-9")
    drop = ("TMDB_", "WANDB_", "AWS_", "S3_", "MODEL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} | {
        "DATA_DIR": str(tmp_path / "data"), "WANDB_MODE": "disabled",
        "S3_ENDPOINT_URL": seaweedfs.endpoint_url, "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key, "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
    }  # fmt: skip
    yield Hostile(env, registry, good)


def moviescore(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moviescore", *args],
        env=env | {"COLUMNS": "300"}, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def poll_result(url: str, result: str) -> dict[str, Any] | None:
    status: dict[str, Any] = httpx.get(url + "/model", timeout=5).json()
    return status if status["last_poll_result"] == result else None


def publish_hostile_manifest(hostile: Hostile) -> str:
    """A version whose model file and sha256 are right but whose manifest says `metrics: abc`."""
    registry = hostile.registry
    pipeline = live.fit_pipeline(seed=1)
    version: str = registry.publish(pipeline, live.manifest_for(pipeline))
    key = f"models/{version}/manifest.json"
    doc = json.loads(registry.client.get_object(Bucket=registry.bucket, Key=key)["Body"].read())
    hostile.put(key, json.dumps(doc | {"metrics": "abc"}).encode())
    return version


def test_hostile_records_are_skipped_and_reported_by_every_reader(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    bucket, good = hostile.registry.bucket, hostile.good
    bad_version = publish_hostile_manifest(hostile)
    hostile.put(BAD_HISTORY, b'{"action": "promote"}')  # no version
    hostile.put(BAD_RUN, b'{"candidates": "none"}')
    url, api = hostile.serve(tmp_path)
    with api:
        # A sound pointer to the hostile manifest: refused at load, the champion stays served.
        hostile.put(CHAMPION, json.dumps({"version": bad_version}).encode())
        status = wait_for(lambda: poll_result(url, "failed"), 20, "the load to fail")
        assert status["version"] == good and "bad manifest" in status["last_error"]
        assert bad_version in status["last_error"]

        hostile.put(CHAMPION, b'{"version": 5}')  # a pointer that does not parse
        status = wait_for(lambda: poll_result(url, "bad_pointer"), 20, "the bad pointer")
        assert status["version"] == good and "champion.json" in status["last_error"]
        ready = httpx.get(url + "/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert f"serving {good}" in ready.json()["detail"]
        assert "bad champion pointer" in ready.json()["detail"]
        movie = {"title": "Still", "original_language": "en", "release_date": "2027-01-01"}
        assert httpx.post(url + "/predict", json=movie, timeout=10).status_code == 200

        answer = httpx.get(url + "/models", timeout=30)
        assert answer.status_code == 200, answer.text
        overview = answer.json()
        assert overview["champion"] is None and overview["served_version"] == good
        listed = {v["version"]: v for v in overview["versions"]}
        assert listed[good]["model_name"] == "xgboost" and "error" not in listed[good]
        assert "bad manifest" in listed[bad_version]["error"]
        assert "metrics" in listed[bad_version]["error"]
        assert [e["version"] for e in overview["history"]] == [good]
        assert "run-9" in [r.get("run_id") for r in overview["runs"]]
        skipped = {s["key"]: s["reason"] for s in overview["skipped"]}
        assert set(skipped) == {f"s3://{bucket}/{k}" for k in (CHAMPION, BAD_HISTORY, BAD_RUN)}
        assert "version: Input should be a valid string" in skipped[f"s3://{bucket}/{CHAMPION}"]

        listing = moviescore("models", "list", env=hostile.env, cwd=tmp_path)
        assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
        assert good in listing.stdout
        row = next(line for line in listing.stdout.splitlines() if bad_version in line)
        assert "bad manifest" in row, listing.stdout
        assert "warning: skipped" in listing.stderr and CHAMPION in listing.stderr
        shown = moviescore("models", "show", good, env=hostile.env, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["manifest"]["version"] == good
        assert "warning: skipped" in shown.stderr

        monkeypatch.setenv("API_URL", url)
        at = AppTest.from_file(str(live.REPO / "streamlit_app.py"), default_timeout=60).run()
        at.sidebar.radio(key="page").set_value("Models").run()
        assert not at.exception, at.exception
        warnings = [w.value for w in at.warning]
        for key in (CHAMPION, BAD_HISTORY, BAD_RUN):
            assert any(f"s3://{bucket}/{key}" in w for w in warnings), warnings
        versions = next(f.value for f in at.dataframe if "problem" in f.value.columns)
        problems = dict(zip(versions["version"], versions["problem"], strict=True))
        assert "bad manifest" in problems[bad_version] and problems[good] == ""

    # A server that starts on the bad pointer serves nothing and says why.
    url, api = hostile.serve(tmp_path, ready=False)
    with api:

        def refused() -> httpx.Response | None:
            answer = httpx.get(url + "/ready", timeout=5)
            return answer if "bad champion pointer" in answer.text else None

        assert wait_for(refused, 20, "/ready naming the bad pointer").status_code == 503
        assert httpx.get(url + "/model", timeout=5).json()["ready"] is False


class PeakRSS:
    """The highest RSS of a process, sampled every 20 ms on a thread while in the `with`."""

    def __init__(self, pid: int) -> None:
        self.process, self.stop = psutil.Process(pid), threading.Event()
        self.start = self.peak = self.rss()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> float:
        return float(self.process.memory_info().rss / 2**20)

    def _sample(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakRSS:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_a_huge_champion_pointer_is_refused_without_reading_it(
    hostile: Hostile, tmp_path: Path
) -> None:
    bucket, good = hostile.registry.bucket, hostile.good
    url, api = hostile.serve(tmp_path)
    with api as proc:
        for _ in range(3):  # warm up /models' code paths before measuring
            assert httpx.get(url + "/models", timeout=30).status_code == 200
        pointer = {"version": good, "pad": "x" * (50 << 20)}  # valid JSON, 50 MiB
        body = json.dumps(pointer).encode()
        with PeakRSS(proc.pid) as rss:
            hostile.put(CHAMPION, body)
            status = wait_for(lambda: poll_result(url, "bad_pointer"), 20, "the pointer refused")
            assert "50.0 MiB, over the 1.0 MiB limit" in status["last_error"]
            time.sleep(3)  # ~15 more polls, each a GET of the 50 MiB object
            with ThreadPoolExecutor(3) as pool:
                answers = list(pool.map(lambda _: httpx.get(url + "/models", timeout=30), [1] * 3))
        growth = rss.peak - rss.start
        for answer in answers:
            assert answer.status_code == 200, answer.text
            (skipped,) = answer.json()["skipped"]
            assert skipped["key"] == f"s3://{bucket}/{CHAMPION}"
            assert "over the 1.0 MiB limit" in skipped["reason"]
        assert status["version"] == good  # still served
        assert growth < 8, f"peak RSS grew {growth:.1f} MiB"
        print(f"RSS {rss.start:.0f} MiB, peak +{growth:.1f} MiB over ~15 polls and 3 /models")
    listing = moviescore("models", "list", env=hostile.env, cwd=tmp_path)
    assert listing.returncode == 0 and good in listing.stdout, listing.stderr
    assert "over the 1.0 MiB limit" in listing.stderr
