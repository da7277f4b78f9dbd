"""What every part of the registry shares: the bucket's keys, its errors, and reading records.

Every record read is parsed here, once, into its model (`moviescore.records`); one that does not
parse raises `RecordError` (key and reason), which a reader may skip and report. Every other error
is an `S3Error` (`moviescore.registry.s3`): `S3Unavailable`, `BucketMissing`, `VersionNotFound`,
`IntegrityError`, or a plain `RegistryError`. The layout of the bucket is in
`moviescore.registry.store`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from moviescore.records import ChampionPointer, Record, RecordError, json_default, parse
from moviescore.registry.s3 import Bucket, S3Error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MODELS = "models/"
CHAMPION_KEY = "models/champion.json"
HISTORY = "models/history/"
RUNS = "runs/"
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
VERSION_RE = re.compile(r"^\d{8}-\d{6}-[a-z0-9_]+-[0-9a-f]{6}$")
VERSION_SECOND_CHARS = len("YYYYMMDD-HHMMSS")  # a version id starts with its creation second


class RegistryError(S3Error):
    """The registry cannot do what was asked (bad id, nothing to roll back to, …)."""


class VersionNotFound(RegistryError):
    pass


class ChampionChanged(RegistryError):
    """Another promotion or rollback moved `champion.json` after this one read it."""


class PointerRefused(RegistryError):
    """A keyed reader refuses `champion.json`: unsigned, or signed with another key. `etag`
    is the refused object's, so the next poll of an unchanged pointer costs a 304."""

    def __init__(self, message: str, etag: str | None = None) -> None:
        super().__init__(message)
        self.etag = etag


class IntegrityError(RegistryError):
    """A bundle failed verification; `reason`: unsigned, bad signature, sha256 mismatch, …."""

    def __init__(self, version: str, reason: str, detail: str) -> None:
        super().__init__(f"model {version} refused ({reason}): {detail}")
        self.version, self.reason = version, reason


R = TypeVar("R", bound=Record)
MAX_EXTRA_FILE_BYTES = 32 * 2**20  # an extra file (e.g. the comparables index) is small data


def to_json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=json_default).encode()


def sha256_hex(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


class RegistryBase:
    """The bucket, the signing key, and record reads; the champion pointer as last written."""

    def __init__(self, client: S3Client, bucket: str, *, signing_key: str | None = None) -> None:
        self.client, self.bucket, self.signing_key = client, bucket, signing_key or None
        self.store = Bucket(client, bucket)

    def _get(self, model: type[R], key: str) -> R | None:
        raw, _ = self.store.get(key)
        return None if raw is None else self._parse(model, key, raw)

    def _parse(self, model: type[R], key: str, raw: bytes | Mapping[str, Any]) -> R:
        return parse(model, raw, f"s3://{self.bucket}/{key}")

    def _get_or_skip(self, model: type[R], key: str, skipped: list[RecordError] | None) -> R | None:
        """`_get`, but a record that does not parse (or is too big) is logged, appended to
        `skipped` and None: one bad record must not hide the good ones."""
        try:
            return self._get(model, key)
        except RecordError as exc:
            log.warning("skipped %s", exc)
            if skipped is not None:
                skipped.append(exc)
            return None

    def champion(self) -> ChampionPointer | None:
        return self._get(ChampionPointer, CHAMPION_KEY)

    def _champion_version(self) -> str | None:
        try:
            pointer = self.champion()
        except RecordError as exc:  # names no version; its readers report it, a new one replaces it
            log.debug("%s", exc)
            return None
        return pointer.version if pointer else None

    def check(self) -> None:
        """Raise an `S3Error` unless the bucket is reachable, exists and accepts our key."""
        self.store.check()
