"""The README's main command (`make run` → scripts/run_local.sh), end to end, minus serving.

Real SeaweedFS on free loopback ports, real `airflow db migrate` + `airflow dags test` on SQLite,
the offline sample (no TMDB key), W&B offline. SERVE=0 stops it after the decision.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers.processes import free_seaweed_base

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration


@pytest.mark.timeout(900)
def test_main_command_runs_the_dag_to_a_champion(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TMDB_", "WANDB_", "AWS_", "S3_", "AIRFLOW", "MODEL_"))
    }
    env.update(
        SERVE="0",
        DS="2026-11-22",
        DATA_DIR=str(tmp_path / "data"),
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_seaweed_base()}",
    )
    # Its own session, so whatever it started can be stopped as one group if it overruns.
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "run_local.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=840)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out[-4000:]
    assert "starting the embedded S3 server" in out
    assert "promoted: no champion yet" in out
    assert "champion: 2026" in out
    assert (tmp_path / "data" / "raw" / "date=2026-11-22" / "movies.parquet").exists()
    # Everything the script started is gone: no SeaweedFS left on our data dir.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path / "data" / "s3") not in ps
