"""The one writer of pipeline and batch files: a failed write never leaves part of a file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import joblib
import pytest

from moviescore.storage import atomic_write, write_joblib, write_json


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
