"""SeaweedFS dying under the registry and the API: SIGKILL by PID, then back on the same ports.

Each test owns its `weed mini` (`killable_s3`); the session's shared server is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reliability.probes import wait_for

from moviescore.config import Settings
from moviescore.registry.s3 import S3Error, S3Unavailable
from moviescore.registry.store import CHAMPION_KEY, Registry
from tests.helpers import live
from tests.helpers.movies import learnable_records
from tests.helpers.s3 import KillableS3

pytestmark = pytest.mark.integration

REPO = live.REPO
MOVIE = {"title": "Kill Test", "genres": ["Drama"], "original_language": "en",
         "runtime": 120, "release_date": "2027-01-01"}  # fmt: skip


def readable(registry: Registry, key: str) -> bytes | None:
    """The object's bytes, or None while a just-restarted SeaweedFS still answers 500 for reads
    (its volume server re-registers with the master a moment after S3 accepts connections)."""
    try:
        return registry.store.get(key)[0]
    except S3Error:
        return None


def kill_on_put(registry: Registry, s3: KillableS3, key_suffix: str) -> None:
    """SIGKILL SeaweedFS the moment the registry starts uploading `key_suffix`."""

    def hook(params: Any, **_: Any) -> None:
        if str(params.get("Key", "")).endswith(key_suffix) and s3.server.running:
            s3.kill()

    registry.client.meta.events.register("before-parameter-build.s3.PutObject", hook)


@pytest.mark.parametrize("dies_at", ["model.joblib", "manifest.json"])
def test_s3_killed_during_a_model_upload(
    killable_settings: Settings, killable_s3: KillableS3, dies_at: str
) -> None:
    old = live.promote(Registry.from_settings(killable_settings), seed=0)
    pointer_before, _ = Registry.from_settings(killable_settings).store.get(CHAMPION_KEY)

    doomed = Registry.from_settings(killable_settings)
    kill_on_put(doomed, killable_s3, dies_at)
    with pytest.raises(S3Unavailable, match="unreachable"):
        live.promote(doomed, seed=1)
    assert not killable_s3.server.running

    killable_s3.restart()  # same ports, same data dir
    registry = Registry.from_settings(killable_settings)
    pointer_after = wait_for(lambda: readable(registry, CHAMPION_KEY), 15, "S3 to serve reads")
    assert pointer_after == pointer_before  # byte-identical: no pointer to a partial version
    assert registry.load(old).version == old  # and the champion still verifies and loads
    assert [v.version for v in registry.list_versions()] == [old]  # the half one is hidden

    new = live.promote(registry, seed=2)  # the next publish after the restart succeeds
    assert registry.champion().version == new  # type: ignore[union-attr]
    assert registry.load(new).pipeline.predict([learnable_records(1)[0][0]]).shape == (1,)


def test_api_keeps_serving_while_s3_is_down_and_recovers(
    killable_settings: Settings, killable_s3: KillableS3, live_api: Any
) -> None:
    registry = Registry.from_settings(killable_settings)
    first = live.promote(registry, seed=0)
    api = live_api(dict(os.environ) | {"MODEL_POLL_SECONDS": "0.3"})
    assert api.model()["version"] == first

    killable_s3.kill()
    down = wait_for(
        lambda: (m := api.model())["poll_failures"] > 0 and m, 15, "/model to show a failed poll"
    )
    assert down["last_poll_result"] == "error"
    assert "poll failed" in down["last_error"] and "unreachable" in down["last_error"]
    assert down["version"] == first and down["ready"]
    for _ in range(20):  # predictions go on from the model in memory
        answer = api.post("/predict", MOVIE)
        assert answer.status_code == 200 and answer.json()["model_version"] == first
    assert api.get("/ready").status_code == 200
    assert "moviescore_registry_poll_failures_total" in api.get("/metrics").text

    killable_s3.restart()  # same ports, same data
    wait_for(lambda: api.model()["last_poll_result"] == "unchanged", 20, "a successful poll")
    second = live.promote(Registry.from_settings(killable_settings), seed=1)
    wait_for(lambda: api.model()["version"] == second, 20, "the new champion to be served")
    assert api.post("/predict", MOVIE).json()["model_version"] == second


PUBLISH_THEN_WAIT = """
import sys
from tests.helpers import live
from moviescore.registry.store import Registry
registry = Registry.from_settings()
version = registry.publish(live.fit_pipeline(7), live.manifest_for(live.fit_pipeline(7)))
print(version, flush=True)
sys.stdin.readline()  # parked between upload and pointer write until killed
registry.set_champion(version, {"promoted": True, "reason": "should never happen"})
"""


def test_pipeline_killed_between_upload_and_pointer_write(
    s3_settings: Settings, tmp_path: Path
) -> None:
    registry = Registry.from_settings(s3_settings)
    older = live.promote(registry, seed=0)
    current = live.promote(registry, seed=1)

    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISH_THEN_WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        orphan = proc.stdout.readline().decode().strip()  # the version is fully uploaded
        assert orphan, "the publisher died before uploading"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    assert registry.champion().version == current  # type: ignore[union-attr]
    versions = {v.version: v for v in registry.list_versions()}
    assert set(versions) == {older, current, orphan}
    assert versions[current].champion and not versions[orphan].champion
    assert versions[orphan].error is None  # complete and verifiable, just never promoted
    assert registry.load(current).version == current

    rolled = registry.rollback()  # rollback follows champion history, not uploads
    assert rolled.version == older and rolled.previous_version == current
    assert registry.champion().version == older  # type: ignore[union-attr]
