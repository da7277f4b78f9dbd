"""The one writer of pipeline and batch files: a failed write never leaves part of a file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import joblib
import pytest

from moviescore.config import Settings, get_settings
from moviescore.registry.s3 import S3Unavailable
from moviescore.storage import DataStore, atomic_write, write_joblib, write_json


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "out.csv"  # parents are created
    atomic_write(path, lambda tmp: tmp.write_text("old"))
    plain = tmp_path / "plain.csv"
    plain.write_text("x")
    assert path.stat().st_mode == plain.stat().st_mode  # usual permissions, not mkstemp's 0600

    def half_then(error: BaseException) -> Any:
        def write(tmp: Path) -> None:
            tmp.write_text("half")
            raise error

        return write

    for error in (OSError("disk full"), KeyboardInterrupt()):  # any exception, even Ctrl-C
        with pytest.raises(type(error)):
            atomic_write(path, half_then(error))
        assert path.read_text() == "old"
        assert [p.name for p in path.parent.iterdir()] == ["out.csv"]  # no temp file left
    atomic_write(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new"
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]


def test_a_model_that_fails_to_pickle_halfway_leaves_the_old_file(tmp_path: Path) -> None:
    """model.joblib: joblib has written the first bytes when the lambda refuses to pickle."""
    path = tmp_path / "run" / "xgboost" / "model.joblib"
    write_joblib(path, {"weights": [1.0, 2.0]})
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        write_joblib(path, [b"x" * 1_000_000, lambda: None])
    assert joblib.load(path) == {"weights": [1.0, 2.0]}
    assert [p.name for p in path.parent.iterdir()] == ["model.joblib"]


def test_write_json_writes_plain_json_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_json(path, {"ds": "2026-01-01", "rows": 3, "where": tmp_path})
    assert json.loads(path.read_text()) == {"ds": "2026-01-01", "rows": 3, "where": str(tmp_path)}
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular"):
        write_json(path, circular)
    assert json.loads(path.read_text())["rows"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


# --- the data store ------------------------------------------------------------------------------


def test_data_store_round_trips_lists_and_deletes_by_key(store_settings: Settings) -> None:
    store = DataStore.from_settings(store_settings)
    key = "candidates/run-1/xgboost/model.joblib"
    assert store.keys("candidates") == []
    store.put_json("candidates/run-1/xgboost/candidate.json", {"rmse": 0.7})
    store.put_joblib(key, {"weights": [1.0]})
    store.put_bytes(key, joblib_bytes({"weights": [2.0]}))
    assert store.keys("candidates") == ["candidates/run-1/xgboost/candidate.json", key]
    assert store.get_json("candidates/run-1/xgboost/candidate.json") == {"rmse": 0.7}
    assert store.get_joblib(key) == {"weights": [2.0]}  # replaced, not added; no temp file
    # a file on this machine: the store itself (local) or a fresh copy in DATA_DIR (s3)
    path = store.local_path(key)
    assert path.resolve() == (store_settings.data_dir / key).resolve()
    assert joblib.load(path) == {"weights": [2.0]}
    store.delete(key)
    store.delete(key)  # absent: nothing to do
    assert store.keys("candidates") == ["candidates/run-1/xgboost/candidate.json"]
    assert not store.exists(key) and not (store_settings.data_dir / key).exists()
    with pytest.raises(FileNotFoundError, match=r"candidates/run-1/xgboost/model\.joblib"):
        store.get_bytes(key)


def test_data_store_in_s3_is_the_bucket_under_data(s3_settings: Settings, seaweedfs: Any) -> None:
    store = DataStore.from_settings(s3_settings)
    store.put_bytes("raw/date=2024-01-01/movies.parquet", b"x")
    assert store.url("raw/x") == f"s3://{s3_settings.s3_bucket}/data/raw/x"
    listed = seaweedfs.client().list_objects_v2(Bucket=s3_settings.s3_bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["data/raw/date=2024-01-01/movies.parquet"]


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "raw/../../x", "./raw", "raw//x"])
def test_data_store_refuses_keys_outside_it(settings: Settings, bad: str) -> None:
    with pytest.raises(ValueError, match="bad data store key"):
        DataStore.from_settings(settings).put_bytes(bad, b"x")


def test_an_unreachable_s3_is_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.processes import free_port

    monkeypatch.setenv("DATA_STORE", "s3")
    monkeypatch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens
    get_settings.cache_clear()
    store = DataStore.from_settings(get_settings())
    with pytest.raises(S3Unavailable, match=r"s3://moviescore/data/raw/date=2024-01-01"):
        store.put_bytes("raw/date=2024-01-01/movies.parquet", b"x")


def joblib_bytes(value: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()
