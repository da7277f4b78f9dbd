"""W&B unreachable, and a data directory that cannot be written: training goes on; collection
fails with a clear error and leaves what was there intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from reliability.probes import tree_state

from moviescore.config import Settings, get_settings
from moviescore.ingest.partitions import partition_path, write_partition
from moviescore.ingest.tmdb_details import records_to_frame
from moviescore.steps import collect_step, preprocess_step, run_id_for, train_step
from tests.helpers.movies import learnable_records
from tests.helpers.processes import free_port
from tests.helpers.tmdb_fake import make_movies

DS = "2024-03-01"


def snapshot_file(path: Path, n: int) -> Path:
    """JSON Lines of TMDB `/movie/{id}` bodies: a snapshot `collect_step` reads."""
    movies = make_movies(n, date(2023, 1, 1), days=300)
    path.write_text("\n".join(json.dumps(m) for m in movies))
    return path


@pytest.mark.slow
def test_training_completes_when_wandb_is_unreachable(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = s3_settings  # preprocess checks the bucket before any training
    collect_step(DS, "snapshot", str(snapshot_file(tmp_path / "movies.jsonl", 200)))
    preprocess_step(DS)
    closed = free_port()  # nothing listens there
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "5")
    get_settings.cache_clear()

    began = time.monotonic()
    out = train_step(DS, "xgboost")
    elapsed = time.monotonic() - began

    assert out["wandb_run_id"] is None  # W&B failed; training did not
    assert out["metrics"]["test_rmse"] > 0
    assert (settings.data_dir / out["model_path"]).stat().st_size > 0
    assert elapsed < 45, elapsed
    record = settings.data_dir / "wandb" / "metrics" / run_id_for(DS) / "xgboost.json"
    assert json.loads(record.read_text())["wandb_mode"] == "online"


def test_data_dir_that_cannot_exist_is_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Tests run as root, where chmod protects nothing; a path under a regular FILE fails for root
    # too (ENOTDIR), honestly, in the kernel.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    monkeypatch.setenv("DATA_DIR", str(blocker / "data"))
    get_settings.cache_clear()
    with pytest.raises(NotADirectoryError, match="not-a-dir"):
        collect_step(DS, "snapshot", str(snapshot_file(tmp_path / "m.jsonl", 20)))
    assert blocker.read_text() == "a file"


WRITE_UNDER_FILE_SIZE_LIMIT = """
import resource, signal, sys
from moviescore.steps import collect_step
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
collect_step(sys.argv[1], "snapshot", sys.argv[2])
"""


@pytest.mark.slow
def test_a_write_error_mid_partition_keeps_the_old_partition_and_no_temp_file(
    settings: Settings, tmp_path: Path
) -> None:
    # ENOSPC needs a full filesystem (a mount); RLIMIT_FSIZE makes the kernel fail the same
    # write() calls mid-file (EFBIG), which is the failure path a full disk takes.
    old = settings.data_dir / write_partition(records_to_frame_small(), DS, settings)
    before = tree_state(settings.data_dir)
    big = snapshot_file(tmp_path / "big.jsonl", 3000)
    limit = 64 * 1024  # the old partition and the snapshot are read; the new parquet is larger
    run = subprocess.run(
        [sys.executable, "-c", WRITE_UNDER_FILE_SIZE_LIMIT, DS, str(big), str(limit)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=dict(os.environ),
    )  # fmt: skip
    assert run.returncode != 0
    assert "File too large" in run.stderr  # a clear OSError, not a corrupt file
    assert "moviescore/ingest/partitions.py" in run.stderr  # raised while writing the partition
    assert tree_state(settings.data_dir) == before  # old partition byte-identical, no .tmp left
    assert len(pd.read_parquet(old)) == 3
    assert partition_path(DS, settings) == old


def records_to_frame_small() -> pd.DataFrame:
    records, ratings = learnable_records(3)
    rows = []
    for record, rating in zip(records, ratings, strict=True):
        rows.append(record | {"id": record["id"] + 1, "vote_average": round(rating, 1),
                             "vote_count": 50, "status": "Released", "source": "test"})  # fmt: skip
    return records_to_frame(rows)
