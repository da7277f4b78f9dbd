"""A real `airflow dags test` of the DAG against the real SeaweedFS: fail fast, champion, re-run.

One module-scoped scenario, three DAG runs of the same logical date (~1 min in all):
1. the snapshot is not there: a configuration mistake, so collect fails at once, without
   retries, saying what to change;
2. the file is in place (conf: the snapshot alone, which means source=snapshot): the run ends
   with a champion in S3;
3. the same date again: still one raw partition, the same champion, a consistent registry.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

DS = "2026-11-22"
RUN_ID = f"run-{DS}"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
SNAPSHOT_ROWS = 600


def _airflow(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _dags_test(conf: str, env: dict[str, str], home: Path) -> dict[str, Any]:
    """One `airflow dags test` of DS: its exit code, time, output and the task instances."""
    started = time.monotonic()
    run = _airflow(["dags", "test", "tmdb_score_pipeline", DS, "--conf", conf], env, 300)
    return {
        "returncode": run.returncode,
        "seconds": time.monotonic() - started,
        "log": run.stdout + run.stderr,
        "tis": _task_instances(home),
    }


def _task_instances(home: Path) -> list[tuple[str, int, str | None, int]]:
    """(task_id, map_index, state, try_number) of every task instance in the metadata DB."""
    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(
            "SELECT task_id, map_index, state, try_number FROM task_instance "
            "WHERE dag_id = 'tmdb_score_pipeline' ORDER BY task_id, map_index"
        ).fetchall()


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    airflow_home_env: dict[str, str],
    seaweedfs: Any,
    tmdb_5000_zip: Path,
) -> Iterator[dict[str, Any]]:
    from moviescore.registry.s3 import ensure_bucket

    root = tmp_path_factory.mktemp("dag-run")
    home = root / "airflow"
    bucket = f"dag-{uuid.uuid4().hex[:12]}"
    client = seaweedfs.client()
    ensure_bucket(client, bucket)

    # A small real snapshot (TMDB 5000 layout) so three fits stay quick.
    staged = root / "staged.csv"
    pd.read_csv(tmdb_5000_zip).sample(SNAPSHOT_ROWS, random_state=7).to_csv(staged, index=False)
    snapshot = root / "incoming" / "movies.csv"  # appears only after collect's first try

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.pop("MODEL_SIGNING_KEY", None)
    env.update(airflow_home_env)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "4",  # seconds; production keeps 300
            "DATA_DIR": str(root / "data"),
            "S3_ENDPOINT_URL": seaweedfs.endpoint_url,
            "S3_BUCKET": bucket,
            "AWS_ACCESS_KEY_ID": seaweedfs.access_key,
            "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
            "WANDB_MODE": "offline",
        }
    )
    migrated = _airflow(["db", "migrate"], env, timeout=180)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    conf = json.dumps({"snapshot": str(snapshot)})  # a snapshot alone: source=snapshot
    failed = _dags_test(conf, env, home)
    snapshot.parent.mkdir()
    shutil.copy(staged, snapshot)
    command = [AIRFLOW, "dags", "test", "tmdb_score_pipeline", DS, "--conf", conf]
    log1 = root / "run1.log"
    started = time.monotonic()
    with log1.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
    first = {
        "returncode": proc.returncode,
        "seconds": time.monotonic() - started,
        "log": log1.read_text(),
        "tis": _task_instances(home),
        "champion": _registry(client, bucket).champion(),
        "decision": _registry(client, bucket).decision(RUN_ID),
        "partitions": _keys(client, bucket, "data/raw/"),
    }

    second = _dags_test(conf, env, home)
    yield {
        "failed": failed,
        "first": first,
        "second": second,
        "registry": _registry(client, bucket),
        "data": root / "data",
        "rows": SNAPSHOT_ROWS,
    }
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)


def _keys(client: Any, bucket: str, prefix: str) -> list[str]:
    """The objects under `prefix` in the bucket: the data store's truth, not a worker's copy."""
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed if not o["Key"].endswith("/"))


def _registry(client: Any, bucket: str) -> Any:
    from moviescore.registry.store import Registry

    return Registry(client, bucket)


def test_a_missing_snapshot_fails_at_once_and_says_what_to_change(
    scenario: dict[str, Any],
) -> None:
    failed = scenario["failed"]
    assert failed["returncode"] != 0
    tis = {(t, i): (s, n) for t, i, s, n in failed["tis"]}
    assert tis[("collect", -1)] == ("failed", 1)  # no retry: waiting cannot make the file appear
    assert "does not exist" in failed["log"]
    assert failed["seconds"] < 60  # not three tries with the retry delay between them


def test_the_next_run_ends_with_a_champion(scenario: dict[str, Any]) -> None:
    first = scenario["first"]
    assert first["returncode"] == 0, first["log"][-4000:]
    tis = {(t, i): (s, n) for t, i, s, n in first["tis"]}
    assert tis[("collect", -1)][0] == "success"
    assert {i for t, i in tis if t == "train"} == {0, 1, 2}
    assert all(state == "success" for state, _ in tis.values()), tis

    champion = first["champion"]
    assert champion is not None
    registry = scenario["registry"]
    bundle = registry.load(champion.version)  # sha256-verified
    assert bundle.manifest.model_name in ("xgboost", "lightgbm", "random_forest")
    decision = first["decision"]
    assert decision.promoted is True and decision.champion_version == champion.version
    assert {c.model_name for c in decision.candidates} == {
        "xgboost",
        "lightgbm",
        "random_forest",
    }
    # each candidate + the promotion became an offline W&B run on disk
    runs = list((scenario["data"] / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) >= 4


def test_rerun_of_the_same_date_is_idempotent(scenario: dict[str, Any]) -> None:
    first, second = scenario["first"], scenario["second"]
    assert second["returncode"] == 0, second["log"][-4000:]
    registry = scenario["registry"]
    partitions = _keys(registry.client, registry.bucket, "data/raw/")
    assert partitions == first["partitions"] == [f"data/raw/date={DS}/movies.parquet"]
    body = registry.client.get_object(Bucket=registry.bucket, Key=partitions[0])["Body"].read()
    assert len(pd.read_parquet(io.BytesIO(body))) <= scenario["rows"]

    champion = registry.champion()
    assert champion.version == first["champion"].version  # same data: no new champion
    decision = registry.decision(RUN_ID)
    assert decision.promoted is False
    versions = registry.list_versions()
    assert [v.version for v in versions] == [champion.version]
    registry.load(champion.version)
