"""Snapshot files: the three shapes a batch of movies may arrive in, read into raw records.

- the TMDB 5000 CSV layout: list columns hold JSON (`[{"id": 28, "name": "Action"}]`);
- the flattened details CSV: list columns hold Python reprs (`[{'id': 16, 'name': 'Animation'}]`,
  read with `ast.literal_eval`, which evaluates literals only), and there is no keywords column,
  so its keywords are None (unknown), not [] (none);
- JSON Lines of TMDB `/movie/{id}` responses, keywords appended.

Any of them may be zipped (a zip holding one file). The format is told by content, and by name
only for JSON Lines: a file starting with `{` or named `*.jsonl`/`*.ndjson` (in a zip: the
member's name) is JSON Lines; anything else must be a CSV with `id`, `title` and `genres` columns,
and a `keywords` column marks the TMDB 5000 layout. A bad cell or row never stops the read and
never disappears: see `records` for how it travels on to validation, which rejects it with the
reason.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pandas as pd

from moviescore.ingest.raw_movie import LIST_FIELDS
from moviescore.ingest.tmdb_details import empty_record, records_to_frame, tmdb_detail_to_raw

log = logging.getLogger(__name__)

SOURCE = "tmdb_snapshot"
CSV_REQUIRED = frozenset({"id", "title", "genres"})
_EXTRA = "\x00extra"  # DictReader's key for fields beyond the header
_SNIPPET = 200
_ZIP_MAGIC = b"PK\x03\x04"  # a local file header: how every zip archive starts
NESTED_COLUMNS = frozenset({*LIST_FIELDS, "credits"})  # cells that hold a list or an object


class SnapshotFormatError(ValueError):
    """The file is not one of the supported snapshot formats (the message names the file)."""


def read_snapshot(path: str | Path) -> pd.DataFrame:
    """Every movie of a snapshot file as a frame with exactly RAW_COLUMNS."""
    path = Path(path)
    name, text = _read_text(path)
    kind = detect_format(path, name, text)
    records, errors = _read_jsonl(text) if kind == "jsonl" else _read_csv(path, text)
    for position, problem in errors.items():
        log.warning("%s: row %d kept for rejection: %s", path, position, problem)
    log.info("%s: %s, %d rows (%d unreadable)", path, kind, len(records), len(errors))
    return records_to_frame(records, errors)


def detect_format(path: Path, name: str, text: str) -> str:
    """ "jsonl", "tmdb5000_csv" or "tmdb_details_csv"; SnapshotFormatError otherwise."""
    head = text.lstrip()
    if not head:
        raise SnapshotFormatError(f"{path}: the file is empty")
    if head.startswith("{") or name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    header = next(csv.reader([head.split("\n", 1)[0]]), [])
    columns = {column.strip() for column in header}
    if columns >= CSV_REQUIRED:
        return "tmdb5000_csv" if "keywords" in columns else "tmdb_details_csv"
    raise SnapshotFormatError(
        f"{path}: unknown snapshot format — expected JSON Lines of TMDB /movie/{{id}} responses, "
        f"or a CSV with columns {sorted(CSV_REQUIRED)} (TMDB 5000 or details layout); "
        f"the file starts with {head[:80]!r}"
    )


def _read_text(path: Path) -> tuple[str, str]:
    """(name of the file holding the data, its text), unzipping when needed."""
    name, data = path.name, b""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [
                    m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename
                ]
                if len(members) != 1:
                    found = [m.filename for m in members]
                    raise SnapshotFormatError(
                        f"{path}: a zip must hold exactly one file, has {found}"
                    )
                name, data = members[0].filename, archive.read(members[0])
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
            raise SnapshotFormatError(f"{path}: a damaged zip archive ({exc})") from exc
    else:
        data = path.read_bytes()
        if data.startswith(_ZIP_MAGIC):  # a zip whose directory (at its end) is missing
            raise SnapshotFormatError(f"{path}: a zip archive that is truncated or damaged")
    try:
        return name, data.decode("utf-8-sig")  # the details CSV starts with a BOM
    except UnicodeDecodeError as exc:
        raise SnapshotFormatError(f"{path}: not UTF-8 text ({exc})") from exc


def _read_jsonl(text: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
    records: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            detail = json.loads(line)
        except json.JSONDecodeError as exc:
            detail, problem = None, f"invalid JSON ({exc.msg}, column {exc.colno})"
        except RecursionError:
            detail, problem = None, "JSON nested too deeply to read"
        else:
            problem = "not a JSON object"
        if isinstance(detail, dict):
            records.append(dict(tmdb_detail_to_raw(detail, source=SOURCE)))
        else:
            errors[len(records)] = f"line {number}: {problem}: {line.strip()[:_SNIPPET]!r}"
            records.append(empty_record(SOURCE))
    return records, errors


def _read_csv(path: Path, text: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
    records: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    header = [column.strip() for column in reader.fieldnames or []]
    reader.fieldnames = header
    try:
        for row in reader:
            extra = row.pop(_EXTRA, None)
            if extra is not None or None in row.values():
                count = len(header) + len(extra or []) - list(row.values()).count(None)
                errors[len(records)] = (
                    f"line {reader.line_num}: {count} fields where the header has {len(header)}"
                    + (f"; extra fields {extra!r}"[:_SNIPPET] if extra else "")
                )
            detail = {k: _literal(v) if k in NESTED_COLUMNS else v for k, v in row.items()}
            records.append(dict(tmdb_detail_to_raw(detail, source=SOURCE)))
    except csv.Error as exc:  # e.g. a NUL byte: the rest of the file cannot be trusted
        raise SnapshotFormatError(
            f"{path}: unreadable CSV at line {reader.line_num}: {exc}"
        ) from exc
    return records, errors


def _literal(text: str | None) -> Any:
    """A list cell: JSON first (TMDB 5000), then a Python literal (details CSV), else the text."""
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # too deep a cell stays text: validation rejects it
        pass
    try:
        return ast.literal_eval(text)  # literals only: never runs code
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
