"""Pathological files and a hostile registry through the real `moviescore` command (a subprocess,
so errors are seen exactly as a person sees them), the real collect step and a live API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability.probes import wait_for

from moviescore.ingest.raw_movie import LIST_FIELDS, RAW_ARROW_SCHEMA
from tests.helpers import live
from tests.helpers.processes import free_port, running
from tests.helpers.tmdb_fake import FakeTMDB, make_movies

pytestmark = pytest.mark.integration

DS = "2026-03-01"
HEADER = "id,title,genres,keywords,release_date,original_language,overview"
GOOD_ROWS = [f'{i},Film {i},"[""Drama""]",[],2020-01-{i:02d},en,A story.' for i in range(1, 21)]
DEEP = "[" * 100_000 + "]" * 100_000


def moviescore(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moviescore", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command failed with exactly one `error:` line naming `words`, and no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    drop = ("TMDB_", "WANDB_", "AWS_", "S3_", "MODEL_", "DATA_STORE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    # these probes read what collect wrote as files: the data store on local disk
    env = {"DATA_DIR": str(tmp_path / "data"), "DATA_STORE": "local", "WANDB_MODE": "disabled"}
    return clean | env


@dataclass
class Bucketed:
    env: dict[str, str]  # the command's environment, pointed at the bucket
    registry: Any
    client: Any

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.registry.bucket, Key=key)


@pytest.fixture
def registry_env(env: dict[str, str], seaweedfs: Any) -> Iterator[Bucketed]:
    """`env` pointed at a fresh bucket of the session's SeaweedFS holding a small real champion."""
    from moviescore.registry.s3 import ensure_bucket
    from moviescore.registry.store import Registry

    bucket = f"files-{uuid.uuid4().hex[:8]}"
    client = seaweedfs.client()
    ensure_bucket(client, bucket)
    registry = Registry(client, bucket)
    live.promote(registry)
    yield Bucketed(env | {
        "S3_ENDPOINT_URL": seaweedfs.endpoint_url, "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key, "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
    }, registry, client)  # fmt: skip


# --- class 6: empty and pathological inputs ------------------------------------------------


def assert_empty_typed_partition(data_dir: Path) -> None:
    path = data_dir / "raw" / f"date={DS}" / "movies.parquet"
    table = pq.read_table(path)
    assert table.num_rows == 0 and table.schema.equals(RAW_ARROW_SCHEMA), table.schema
    for name in LIST_FIELDS:  # the schema the writer asked for, not float64 from an empty column
        assert table.schema.field(name).type == pa.list_(pa.string()), table.schema


def test_a_snapshot_with_a_header_and_no_rows_gives_an_empty_typed_partition(
    env: dict[str, str], tmp_path: Path
) -> None:
    snapshot = tmp_path / "empty.csv"
    snapshot.write_text(HEADER + "\n")
    done = moviescore("collect", "--date", DS, "--source", "snapshot", "--snapshot",
                      str(snapshot), env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 0
    assert_empty_typed_partition(Path(env["DATA_DIR"]))


def test_a_tmdb_window_without_releases_gives_an_empty_typed_partition(
    env: dict[str, str], tmp_path: Path
) -> None:
    movies = make_movies(5, date(2020, 1, 1), days=2)  # nothing near DS
    with FakeTMDB(movies, api_key="empty-window-key") as fake:
        done = moviescore(
            "collect", "--date", DS, "--source", "tmdb", cwd=tmp_path,
            env=env | {"TMDB_API_KEY": "empty-window-key", "TMDB_BASE_URL": fake.base_url},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 0
    assert_empty_typed_partition(Path(env["DATA_DIR"]))


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_deeply_nested_cell_or_line_is_one_rejected_row(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    if kind == "csv":
        deep_row = f'99,Deep,"{DEEP[:60_000]}",[],2020-01-01,en,x'  # under csv's field limit
        text = "\n".join([HEADER, *GOOD_ROWS[:10], deep_row, *GOOD_ROWS[10:]]) + "\n"
    else:
        good = [json.dumps({"id": i, "title": f"Film {i}", "release_date": f"2020-01-{i:02d}",
                            "original_language": "en"}) for i in range(1, 21)]  # fmt: skip
        text = "\n".join([*good[:10], '{"id": 99, "genres": ' + DEEP + "}", *good[10:]]) + "\n"
    snapshot = tmp_path / f"deep.{kind}"
    snapshot.write_text(text)
    done = moviescore("collect", "--date", DS, "--source", "snapshot", "--snapshot",
                      str(snapshot), env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 20 and json.loads(done.stdout)["rejected"] == 1
    rejected = pd.read_csv(Path(env["DATA_DIR"]) / "rejected" / f"date={DS}.csv")
    reason = rejected["reason"].iloc[0]
    assert ("nested too deeply" in reason) if kind == "jsonl" else ("genres" in reason), reason


# --- class 7: batch prediction validates rows ----------------------------------------------


def test_predict_input_predicts_good_rows_and_lists_the_bad_ones(
    registry_env: Bucketed, tmp_path: Path
) -> None:
    env = registry_env.env
    bad_rows = [
        "101,Bad Date,[],[],2020-02-30,en,x",  # no such day
        "102,,[],[],2020-01-01,en,x",  # no title
        "103,No Date,[],[],,en,x",  # no date
    ]
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("\n".join([HEADER, *GOOD_ROWS[:5], *bad_rows, *GOOD_ROWS[5:]]) + "\n")
    out = tmp_path / "out.csv"
    done = moviescore("predict", "--input", str(csv_file), "--output", str(out),
                      env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "3 rows rejected" in done.stderr and "wrote 20 predictions" in done.stdout
    predictions = pd.read_csv(out)
    assert sorted(predictions["id"]) == list(range(1, 21))
    assert predictions["predicted_rating"].between(0, 10).all()
    rejected = pd.read_csv(tmp_path / "out.rejected.csv").set_index("id")
    assert "release_date" in rejected.loc[101, "reason"]
    assert "title" in rejected.loc[102, "reason"]
    assert "release_date" in rejected.loc[103, "reason"]

    jsonl = tmp_path / "in.jsonl"  # unreadable lines are rejected rows, not `,5.789`
    lines = [json.dumps({"id": 1, "title": "A", "release_date": "2020-01-01",
                         "original_language": "en"}), "not json at all", "[1, 2]"]  # fmt: skip
    jsonl.write_text("\n".join(lines) + "\n")
    done = moviescore("predict", "--input", str(jsonl), "--output", str(out), env=env, cwd=tmp_path)
    assert done.returncode == 1 and "2 rows rejected" in done.stderr, done.stderr
    assert list(pd.read_csv(out)["id"]) == [1]
    reasons = pd.read_csv(tmp_path / "out.rejected.csv")["reason"].tolist()
    assert any("invalid JSON" in r for r in reasons) and any(
        "not a JSON object" in r for r in reasons
    )

    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join([HEADER, *GOOD_ROWS]) + "\n")
    done = moviescore("predict", "--input", str(clean), "--output", str(out), env=env, cwd=tmp_path)
    assert done.returncode == 0 and not (tmp_path / "out.rejected.csv").exists(), done.stderr


# --- class 8: errors a person can read -----------------------------------------------------


def test_cli_errors_are_one_line_and_the_traceback_needs_v(
    registry_env: Bucketed, tmp_path: Path
) -> None:
    env, registry = registry_env.env, registry_env.registry
    one_line_error(moviescore("models", "show", "20990101-000000-xgboost-abcdef",
                              env=env, cwd=tmp_path), "no model version")  # fmt: skip
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join([HEADER, *GOOD_ROWS]) + "\n")
    one_line_error(moviescore("predict", "--input", str(clean), "--output", str(tmp_path / "o.csv"),
                              "--version", "nope", env=env, cwd=tmp_path), "'nope'")  # fmt: skip
    one_line_error(
        moviescore("collect", "--date", "9999-12-31", "--source", "tmdb", cwd=tmp_path,
                   env=env | {"TMDB_API_KEY": "k", "TMDB_BASE_URL": "http://127.0.0.1:9"}),
        "9999-12-31", "calendar",
    )  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("movies.csv", "\n".join([HEADER, *GOOD_ROWS] * 50))
    truncated = tmp_path / "movies.zip"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    one_line_error(moviescore("collect", "--date", DS, "--source", "snapshot", "--snapshot",
                              str(truncated), env=env, cwd=tmp_path), "truncated")  # fmt: skip

    registry.store.put("models/champion.json", b'{"version": ')  # a malformed pointer
    one_line_error(moviescore("models", "show", env=env, cwd=tmp_path), "champion.json")
    verbose = moviescore("-v", "models", "show", env=env, cwd=tmp_path)
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr


def test_a_version_with_missing_files_is_marked_and_rollback_skips_it(
    registry_env: Bucketed, tmp_path: Path
) -> None:
    env, registry = registry_env.env, registry_env.registry
    first = registry.champion().version
    broken = live.promote(registry, seed=1)
    current = live.promote(registry, seed=2)
    registry_env.delete(f"models/{broken}/model.joblib")
    listing = moviescore("models", "list", env=env | {"COLUMNS": "250"}, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if broken in line)
    assert "missing file" in row, listing.stdout
    done = moviescore("models", "rollback", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert registry.champion().version == first != current
    assert "rollback skips" in done.stderr and broken in done.stderr


# --- class 8: /predict's 503 says why ------------------------------------------------------


def test_predict_503_says_why_like_ready(registry_env: Bucketed, tmp_path: Path) -> None:
    env, registry = registry_env.env, registry_env.registry
    from moviescore.registry.s3 import ensure_bucket

    movie = {"title": "Why", "original_language": "en", "release_date": "2027-01-01"}
    version = registry.champion().version
    registry_env.delete(f"models/{version}/model.joblib")
    cases = {
        "missing file": env,
        "unreachable": env | {"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
        "no champion": env | {"S3_BUCKET": "files-empty"},
    }
    ensure_bucket(registry_env.client, "files-empty")
    for why, api_env in cases.items():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "moviescore", "serve", "--port", str(port)]
        with running(command, f"{url}/health", tmp_path / f"{port}.log",
                          env=api_env | {"MODEL_POLL_SECONDS": "0.2"}):  # fmt: skip

            def refused(url: str = url, why: str = why) -> httpx.Response | None:
                answer = httpx.get(url + "/ready", timeout=5)
                return answer if answer.status_code == 503 and why in answer.text else None

            ready = wait_for(refused, 20, f"/ready naming {why}")
            answer = httpx.post(url + "/predict", json=movie, timeout=5)
            assert answer.status_code == 503 and why in answer.json()["detail"], answer.text
            assert answer.json()["detail"].split(" last error")[0] in ready.json()["detail"]
