"""Where the pipeline's data lives, and how every file is written: all or nothing, one way.

`DataStore` holds what the steps hand each other (raw partitions, rejected rows, datasets,
candidate models), addressed by keys such as `raw/date=2026-11-22/movies.parquet`:

    s3   (default)  s3://$S3_BUCKET/data/<key>, beside the registry's models/ and runs/ in the
                    same bucket, with the same endpoint and credentials; DATA_DIR/<key> keeps a
                    local copy of what this machine wrote or fetched, which no step trusts, so a
                    task may start on any worker with an empty DATA_DIR
    local           DATA_DIR/<key> only: one machine (tests, benchmarks, a laptop without S3)

The file system is pyarrow's (`pyarrow.fs.S3FileSystem` / `LocalFileSystem`), a core dependency
already. An object is written by one PUT of its complete bytes, so a reader sees the old object
or the new one, never a part; a local file goes through `atomic_write` (temp file + rename).
Failures of the store raise `StoreError` (an `S3Error`) naming the URL; a missing key raises
`FileNotFoundError` naming it.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from moviescore.config import Settings, get_settings
from moviescore.registry.s3 import (
    CONNECT_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    READ_TIMEOUT_SECONDS,
    S3Error,
    S3Unavailable,
)

DATA_PREFIX = "data"  # the data's folder in the bucket, beside models/ and runs/
READ_THREADS = 8  # parallel GETs when a step reads many partitions


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


class StoreError(S3Error):
    """The data store could not read or write an object; the message names its URL."""


def _check_key(key: str) -> str:
    if any(part in {"", ".", ".."} for part in key.split("/")):  # also "" and "/abs"
        raise ValueError(f"bad data store key {key!r}: a relative path like raw/date=D/x")
    return key


class DataStore:
    """Objects by key in the bucket (or DATA_DIR alone); see the module docstring."""

    def __init__(self, fs: pafs.FileSystem, root: str, url: str, cache_dir: Path | None) -> None:
        self.fs, self.root, self._url, self.cache_dir = fs, root.rstrip("/"), url, cache_dir

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DataStore:
        settings = settings or get_settings()
        if settings.data_store == "local":
            folder = str(settings.data_dir.resolve())
            return cls(pafs.LocalFileSystem(), folder, folder, None)
        access_key, secret_key = settings.s3_credentials()  # (None, None): the AWS chain
        fs = pafs.S3FileSystem(
            access_key=access_key,
            secret_key=secret_key,
            region=settings.aws_default_region,
            endpoint_override=settings.s3_endpoint_url or None,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            request_timeout=READ_TIMEOUT_SECONDS,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS),
            allow_bucket_creation=False,  # a missing bucket is an error, as in the registry
            check_directory_existence_before_creation=False,  # keys, not folders
        )
        root = f"{settings.s3_bucket}/{DATA_PREFIX}"
        return cls(fs, root, f"s3://{root}", settings.data_dir)

    @property
    def is_local(self) -> bool:
        return self.cache_dir is None

    def url(self, key: str) -> str:
        """Where `key` lives, for messages and operators (s3://bucket/data/<key> or a path)."""
        return f"{self._url}/{_check_key(key)}"

    def _path(self, key: str) -> str:
        return f"{self.root}/{_check_key(key)}"

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{self.url(key)} does not exist") from exc
        except OSError as exc:
            if self.is_local:
                raise  # disk full, not a directory, …: the OS's own error is the clearest
            kind = S3Unavailable if "NETWORK_CONNECTION" in str(exc) else StoreError
            raise kind(f"data store {self.url(key)}: {exc}") from exc

    # --- bytes --------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> str:
        """Create or replace `key` with `data` whole; the local copy too. Returns `key`."""
        if self.is_local:
            atomic_write(Path(self._path(key)), lambda tmp: tmp.write_bytes(data))
            return key
        with self._errors(key), self.fs.open_output_stream(self._path(key)) as out:
            out.write(data)  # one complete buffer: the upload is all of it or nothing
        self._keep_copy(key, data)
        return key

    def get_bytes(self, key: str) -> bytes:
        with self._errors(key), self.fs.open_input_stream(self._path(key)) as src:
            return bytes(src.read())

    def exists(self, key: str) -> bool:
        with self._errors(key):
            return self.fs.get_file_info(self._path(key)).type == pafs.FileType.File

    def delete(self, key: str) -> None:
        """Remove `key` (and its local copy); nothing to do if it is absent."""
        if self.exists(key):
            with self._errors(key):
                self.fs.delete_file(self._path(key))
        if self.cache_dir is not None:
            (self.cache_dir / key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        """Every key under the folder `prefix`, sorted; [] when there is none."""
        selector = pafs.FileSelector(self._path(prefix), recursive=True, allow_not_found=True)
        with self._errors(prefix):
            infos = self.fs.get_file_info(selector)
        start = len(self.root) + 1
        return sorted(
            i.path[start:]
            for i in infos
            if i.type == pafs.FileType.File and not i.base_name.startswith(".")  # temp files
        )

    def local_path(self, key: str) -> Path:
        """A file on this machine with the object's current bytes (fetched from the bucket)."""
        if self.cache_dir is None:
            path = Path(self._path(key))
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist")
            return path
        return self._keep_copy(key, self.get_bytes(key))

    def written_path(self, key: str) -> Path:
        """The local file `put_bytes` of this process left for `key` (no GET): what W&B logs."""
        return Path(self._path(key)) if self.cache_dir is None else self.cache_dir / key

    def _keep_copy(self, key: str, data: bytes) -> Path:
        assert self.cache_dir is not None
        return atomic_write(self.cache_dir / key, lambda tmp: tmp.write_bytes(data))

    # --- formats ------------------------------------------------------------------------------
    def put_json(self, key: str, value: Any) -> str:
        return self.put_bytes(key, json.dumps(value, indent=2, default=str).encode())

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def put_parquet(self, key: str, table: pa.Table) -> str:
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer)  # whole in memory first: a failed write PUTs nothing
        return self.put_bytes(key, buffer.getvalue().to_pybytes())

    def get_parquet(self, key: str, schema: pa.Schema | None = None) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.get_bytes(key)), schema=schema)

    def get_parquets(self, keys: Sequence[str], schema: pa.Schema | None = None) -> list[pa.Table]:
        """Many objects at once (parallel GETs), in the order of `keys`."""
        with ThreadPoolExecutor(READ_THREADS) as pool:
            return list(pool.map(lambda key: self.get_parquet(key, schema), keys))

    def put_joblib(self, key: str, value: Any) -> str:
        buffer = io.BytesIO()
        joblib.dump(value, buffer)
        return self.put_bytes(key, buffer.getvalue())

    def get_joblib(self, key: str) -> Any:
        return joblib.load(io.BytesIO(self.get_bytes(key)))
