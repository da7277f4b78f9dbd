"""Small helpers the reliability tests share (importable as `reliability.probes`)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """{relative path: (sha256, mtime_ns)} of every file under `root`: a byte-exact snapshot."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


BODY_TIMEOUT_SECONDS = 2  # REQUEST_BODY_TIMEOUT_SECONDS of `served_api`: slow-body probes wait it


@dataclass
class ServedAPI:
    """A live `moviescore serve` (conftest `served_api`)."""

    url: str
    pid: int
    log: Path
