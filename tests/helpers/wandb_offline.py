"""Read what an offline W&B run holds, straight from its `run-<id>.wandb` log (no server, no CLI).

The log is a leveldb-style journal of `wandb_internal_pb2.Record` messages: a 7-byte file header
(":W&B", magic, version), then 32 KiB blocks of chunks, each with a 7-byte header (crc32, length
little-endian, chunk type: full / first / middle / last). A chunk header never straddles a block;
a block's tail shorter than a header is padding.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

FILE_HEADER = 7
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[Any]:
    """Every Record in a `.wandb` file, in order; a corrupt chunk is an error, not a skip."""
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    out: list[Any] = []
    pending = b""
    pos = FILE_HEADER
    while pos + CHUNK_HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < CHUNK_HEADER:  # padding at the end of a block
            pos += room
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + CHUNK_HEADER])
        if (crc, length, kind) == (0, 0, 0):  # zero-filled tail of the last block
            break
        chunk = data[pos + CHUNK_HEADER : pos + CHUNK_HEADER + length]
        if zlib.crc32(bytes([kind]) + chunk) & 0xFFFFFFFF != crc:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos += CHUNK_HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


@dataclass
class OfflineRun:
    """The parts of a run a test asserts on, decoded from its records."""

    id: str
    name: str
    group: str
    job_type: str
    started: float  # seconds since the epoch
    tags: list[str]
    config: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # logged and used alike

    def used(self) -> list[dict[str, Any]]:
        return [a for a in self.artifacts if a["use_after_commit"]]

    def logged_of_type(self, kind: str) -> list[dict[str, Any]]:
        """Artifacts of type `kind` this run output (not the ones it used)."""
        return [a for a in self.artifacts if not a["use_after_commit"] and a["type"] == kind]


def _item(item: Any) -> tuple[str, Any]:
    key = "/".join(item.nested_key) if item.nested_key else item.key
    return key, json.loads(item.value_json)


def finished_records(log: Path, timeout: float = 15.0) -> list[Any]:
    """The records of a finished run. `run.finish()` returns before the W&B service has
    flushed and closed the file, so wait (bounded) for the exit record."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = records(log)
        except ValueError:  # a chunk still being written
            found = []
        if any(r.WhichOneof("record_type") == "exit" for r in found):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log} holds no exit record after {timeout} s")
        time.sleep(0.1)


def read_run(run_dir: Path) -> OfflineRun:
    """The run in `run_dir` (an `offline-run-*` directory), once it has finished."""
    (log,) = run_dir.glob("run-*.wandb")
    run: OfflineRun | None = None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    for record in finished_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            started = r.start_time.seconds + r.start_time.nanos / 1e9
            run = OfflineRun(
                r.run_id, r.display_name, r.run_group, r.job_type, started, list(r.tags), {}, {}
            )
            config.update(dict(_item(i) for i in r.config.update))
        elif kind == "config":
            config.update(dict(_item(i) for i in record.config.update))
        elif kind == "summary":
            summary.update(dict(_item(i) for i in record.summary.update))
        elif kind == "history":
            history.append(dict(_item(i) for i in record.history.item))
        elif kind == "artifact":
            a = record.artifact
            artifacts.append(
                {
                    "name": a.name,
                    "type": a.type,
                    "aliases": list(a.aliases),
                    "metadata": json.loads(a.metadata) if a.metadata else {},
                    "files": sorted(e.path for e in a.manifest.contents),
                    "digest": a.digest,
                    "use_after_commit": a.use_after_commit,
                    "user_created": a.user_created,
                }
            )
    if run is None:
        raise ValueError(f"{log} holds no run record")
    run.config = {k: v.get("value", v) if isinstance(v, dict) else v for k, v in config.items()}
    run.summary, run.history, run.artifacts = summary, history, artifacts
    return run


def read_runs(wandb_root: Path) -> list[OfflineRun]:
    """Every offline run under a W&B dir (`<WANDB_DIR>/wandb/offline-run-*`), oldest first."""
    runs = [read_run(d) for d in wandb_root.glob("wandb/offline-run-*")]
    return sorted(runs, key=lambda r: r.started)
