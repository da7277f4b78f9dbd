"""A real Airflow scheduler (api-server + scheduler + dag-processor on loopback, LocalExecutor,
SQLite) runs `airflow backfill create` of three dates WITH the default parallelism (its own
max-active-runs, not the DAG's), plus a manual run without a logical date. The registry must end
with one coherent champion history, every run's decision recorded, promote never running twice
at once. Minutes, not seconds; integration only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers.processes import free_port, wait_http
from tests.helpers.registry import assert_chain

pytestmark = pytest.mark.integration

AIRFLOW = str(Path(sys.executable).parent / "airflow")
DATES = ("2026-11-20", "2026-11-21", "2026-11-22")
FINISHED = {"success", "failed"}


@contextmanager
def airflow_process(args: list[str], env: dict[str, str], log: Path) -> Iterator[Any]:
    """An Airflow component in its own process group, stopped with all its children."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [AIRFLOW, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            cwd=log.parent, start_new_session=True,
        )  # fmt: skip
    try:
        yield proc
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if proc.poll() is not None:
                break
            os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        # children the component left in its group (task runners, uvicorn workers)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def query(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql).fetchall()


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.timeout(900)  # 4 runs x 6 task processes: longer than the suite default
def test_backfill_with_default_parallelism_ends_with_one_coherent_champion_history(
    tmp_path: Path,
    airflow_home_env: dict[str, str],
    seaweedfs: Any,
    tmdb_5000_zip: Path,
) -> None:
    from moviescore.registry.s3 import ensure_bucket
    from moviescore.registry.store import Registry

    home = tmp_path / "airflow"
    bucket = f"bf-{uuid.uuid4().hex[:12]}"
    client = seaweedfs.client()
    ensure_bucket(client, bucket)
    snapshot = tmp_path / "movies.csv"
    pd.read_csv(tmdb_5000_zip).sample(600, random_state=7).to_csv(snapshot, index=False)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.pop("MODEL_SIGNING_KEY", None)
    env |= airflow_home_env | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "4",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the runs this test creates
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "DATA_DIR": str(tmp_path / "data"),
        "S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "WANDB_MODE": "disabled",
    }
    migrated = cli(["db", "migrate"], env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    with ExitStack() as stack:
        serve = ["api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"]
        api = stack.enter_context(airflow_process(serve, env, tmp_path / "api.log"))
        stack.enter_context(
            airflow_process(["scheduler", "--skip-serve-logs"], env, tmp_path / "sched.log")
        )
        stack.enter_context(airflow_process(["dag-processor"], env, tmp_path / "proc.log"))
        wait_http(f"http://127.0.0.1:{port}/api/v2/monitor/health", 120, api, tmp_path / "api.log")
        deadline = time.monotonic() + 120
        while cli(["dags", "unpause", "tmdb_score_pipeline"], env).returncode != 0:
            assert time.monotonic() < deadline, (tmp_path / "proc.log").read_text()[-3000:]
            time.sleep(2)

        conf = json.dumps({"snapshot": str(snapshot)})  # a snapshot alone: source=snapshot
        backfill = cli(
            ["backfill", "create", "--dag-id", "tmdb_score_pipeline", "--from-date", DATES[0],
             "--to-date", DATES[-1], "--dag-run-conf", conf],
            env,
        )  # fmt: skip
        assert backfill.returncode == 0, backfill.stderr[-3000:]
        manual = cli(["dags", "trigger", "tmdb_score_pipeline", "--conf", conf], env)  # no -l
        assert manual.returncode == 0, manual.stderr[-3000:]

        deadline = time.monotonic() + 600
        while True:
            runs = query(home, "SELECT run_id, logical_date, state, run_after FROM dag_run")
            if len(runs) == len(DATES) + 1 and all(state in FINISHED for _, _, state, _ in runs):
                break
            assert time.monotonic() < deadline, (runs, (tmp_path / "sched.log").read_text()[-4000:])
            time.sleep(3)

    assert [state for _, _, state, _ in runs] == ["success"] * len(runs), runs
    manual_run = [r for r in runs if r[1] is None]
    assert len(manual_run) == 1  # a run without a logical date ...
    today = datetime.fromisoformat(str(manual_run[0][3])).date().isoformat()  # ... uses run_after

    registry = Registry(client, bucket)
    chain = assert_chain(registry)  # one coherent history, whatever order the dates ran in
    assert len(chain) >= 1
    dates = [e.ds or "" for e in reversed(registry.history())]
    assert dates == sorted(dates)  # never an older date over a newer one
    for ds in (*DATES, today):
        attempts = registry.attempts(f"run-{ds}")
        assert attempts, ds  # every run recorded its decision
    promotes = query(
        home,
        "SELECT start_date, end_date FROM task_instance WHERE task_id = 'promote' "
        "ORDER BY start_date",
    )
    assert len(promotes) == len(DATES) + 1
    for (_, end), (start, _) in itertools.pairwise(promotes):
        assert end <= start  # one promotion at a time across runs
