"""The DAG on Airflow's CeleryExecutor: two workers, separate working and data directories.

Real processes on loopback, each in its own process group: Debian's redis-server (the broker),
`airflow api-server`, `scheduler`, `dag-processor` and two `airflow celery worker`s, each with
its own cwd and its own empty DATA_DIR; a real SeaweedFS holds the data and the models. A
triggered run of tmdb_score_pipeline must succeed with its tasks spread over both workers, so
nothing but the bucket and XCom passes between them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.processes import free_port, running
from tests.helpers.tmdb_fake import learnable_snapshot

pytestmark = pytest.mark.integration

DS = "2026-11-22"  # on or after the DAG's start_date, or the run has no tasks
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
WORKERS = ("w1", "w2")
RUN_SECONDS = 420  # the whole run: workers start, 6 tasks, 3 of them training


def _db(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql).fetchall()


def _wait(what: str, check: Any, timeout: float, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in logs)
    raise TimeoutError(f"{what} not within {timeout:.0f} s\n{tails}")


@pytest.fixture(scope="module")
def celery_run(
    tmp_path_factory: pytest.TempPathFactory,
    airflow_home_env: dict[str, str],
    seaweedfs: Any,
) -> Iterator[dict[str, Any]]:
    import subprocess

    from moviescore.registry.s3 import ensure_bucket
    from moviescore.registry.store import Registry

    redis = shutil.which("redis-server")
    if redis is None:
        pytest.skip("Debian's redis-server is not installed (apt-get install redis-server)")
    root = tmp_path_factory.mktemp("celery")
    home = root / "airflow"
    bucket = f"celery-{uuid.uuid4().hex[:12]}"
    client = seaweedfs.client()
    ensure_bucket(client, bucket)
    snapshot = learnable_snapshot(root / "movies.jsonl")
    redis_port, api_port, health_port = free_port(), free_port(), free_port()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "DATA_"))}
    env.pop("MODEL_SIGNING_KEY", None)
    env |= airflow_home_env | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{home}/celery.db",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the run this test triggers
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health_port),
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "4",
        "S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "DATA_STORE": "s3",
        "WANDB_MODE": "disabled",
        "MAX_RMSE_GAP": "5",  # the small synthetic snapshot overfits; this tests the executor
    }
    home.mkdir()
    migrated = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=180
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    api = f"http://127.0.0.1:{api_port}"
    logs: list[Path] = []

    def start(name: str, command: list[str], health: str | None, **kw: Any) -> None:
        logs.append(root / f"{name}.log")
        stack.enter_context(running(command, health, logs[-1], group=True, timeout=120, **kw))

    with ExitStack() as stack:
        redis_cmd = [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no"]  # fmt: skip
        start("redis", redis_cmd, None, env=env)
        start("api-server", [AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(api_port)],
              f"{api}/api/v2/version", env=env)  # fmt: skip
        start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"],
              f"http://127.0.0.1:{health_port}/health", env=env)  # fmt: skip
        start("dag-processor", [AIRFLOW, "dag-processor"], None, env=env)
        for worker in WORKERS:  # own cwd, own DATA_DIR: as on two machines
            cwd = root / worker
            cwd.mkdir()
            start(worker, [AIRFLOW, "celery", "worker", "-H", worker, "-c", "1", "-s"], None,
                  env=env | {"DATA_DIR": str(cwd / "data")}, cwd=cwd)  # fmt: skip

        def parsed() -> bool:
            rows = _db(home, "SELECT 1 FROM dag WHERE dag_id = 'tmdb_score_pipeline'")
            return bool(rows)

        _wait("the dag-processor to parse the DAG", parsed, 120, logs)

        def workers_ready() -> bool:  # else the first one up may take every task
            return all(
                f"celery@{w} ready." in (root / f"{w}.log").read_text(errors="replace")
                for w in WORKERS
            )

        _wait("both Celery workers", workers_ready, 120, logs)
        conf = json.dumps({"source": "snapshot", "snapshot": str(snapshot)})
        trigger = [AIRFLOW, "dags", "trigger", "tmdb_score_pipeline", "-l", f"{DS}T00:00:00+00:00",
                   "-c", conf]  # fmt: skip
        triggered = subprocess.run(trigger, env=env, capture_output=True, text=True, timeout=120)
        assert triggered.returncode == 0, triggered.stderr[-3000:]
        started = time.monotonic()

        def finished() -> str | None:
            rows = _db(home, "SELECT state FROM dag_run WHERE dag_id = 'tmdb_score_pipeline'")
            done = [s for (s,) in rows if s in ("success", "failed")]
            return done[0] if done else None

        state = _wait("the DAG run to finish", finished, RUN_SECONDS, logs)
        yield {
            "state": state,
            "seconds": time.monotonic() - started,
            "tis": _db(
                home,
                "SELECT task_id, map_index, state, external_executor_id FROM task_instance "
                "WHERE dag_id = 'tmdb_score_pipeline' ORDER BY task_id, map_index",
            ),
            "logs": {p.stem: p for p in logs},
            "root": root,
            "registry": Registry(client, bucket),
        }
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)


def test_a_run_on_two_celery_workers_succeeds_with_a_champion(celery_run: dict[str, Any]) -> None:
    logs = celery_run["logs"]
    tail = "\n".join(f"--- {n}\n{p.read_text(errors='replace')[-2000:]}" for n, p in logs.items())
    assert celery_run["state"] == "success", tail
    tis = {(t, i): state for t, i, state, _ in celery_run["tis"]}
    assert set(tis) == {
        ("collect", -1), ("preprocess", -1), ("train", 0), ("train", 1), ("train", 2),
        ("promote", -1),
    }  # fmt: skip
    assert set(tis.values()) == {"success"}, tis
    registry = celery_run["registry"]
    champion = registry.champion()
    assert champion is not None
    assert registry.decision(f"run-{DS}").champion_version == champion.version


def test_the_tasks_were_spread_over_both_workers(celery_run: dict[str, Any]) -> None:
    """Each task instance's Celery task id (external_executor_id) is in exactly one worker's
    log, and each worker's DATA_DIR holds copies of what its own tasks wrote, nothing more."""
    wanted = {celery_id for *_, celery_id in celery_run["tis"]}
    ran_on: dict[str, set[str]] = {}
    deadline = time.monotonic() + 30  # a worker logs "succeeded" just after the task's state
    while True:
        for worker in WORKERS:
            text = celery_run["logs"][worker].read_text(errors="replace")
            ids = set(re.findall(r"execute_workload\[([0-9a-f-]{36})\] succeeded", text))
            ran_on[worker] = ids
        if wanted <= set().union(*ran_on.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_task = {
        f"{task}[{index}]": [w for w in WORKERS if celery_id in ran_on[w]]
        for task, index, _, celery_id in celery_run["tis"]
    }
    assert all(len(workers) == 1 for workers in by_task.values()), by_task
    assert {ws[0] for ws in by_task.values()} == set(WORKERS), by_task  # both did work

    root: Path = celery_run["root"]
    for worker in WORKERS:
        tasks = {t for t, ws in by_task.items() if ws == [worker]}
        copies = {p.relative_to(root / worker / "data").as_posix()
                  for p in (root / worker / "data").rglob("*") if p.is_file()}  # fmt: skip
        has_partition = f"raw/date={DS}/movies.parquet" in copies
        assert has_partition == ("collect[-1]" in tasks), (worker, tasks, copies)
