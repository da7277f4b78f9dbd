"""Where and how the pipeline and batch prediction write files: all or nothing, one way.

Every file a step or a batch job writes (partitions, datasets, summaries, candidates, models,
decisions, rejected rows, predictions, tracking records) goes through `atomic_write`, so a
re-run replaces a file instead of mixing old and new, and a crash or a full disk never leaves
half a file where a reader looks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Create or replace `path` all or nothing: `write` fills a temp file in the same directory
    (creating its parents), which then replaces `path` in one rename. On any error the temp
    file is removed and `path` keeps its old content; a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name, created by `write` itself, so the file gets the usual umask permissions
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        tmp.replace(path)  # os.replace: atomic within one directory
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, value: Any) -> Path:
    """`value` as indented JSON (dates, paths and numpy scalars as text) at `path`, atomically."""
    text = json.dumps(value, indent=2, default=str)
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_joblib(path: Path, value: Any) -> Path:
    """A pickled object (a fitted pipeline) at `path`, atomically."""
    return atomic_write(path, lambda tmp: joblib.dump(value, tmp))
