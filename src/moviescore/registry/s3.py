"""boto3 client construction (endpoint_url aware), S3 error translation, and the local S3 server.

`make_client` fails fast: an unreachable endpoint raises within seconds (short connect timeout,
botocore "standard" retries) instead of the default minute-long wait. `s3_errors` turns botocore's
exceptions into three readable ones (`S3Unavailable`, `BucketMissing`, `S3Error`).
The local S3 server (`LocalS3Server`, `serve_forever`) lives in `moviescore.local_s3`: it starts
a process, which serving code never needs.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from moviescore.config import Settings, get_settings
from moviescore.records import RecordError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 30.0  # a RandomForest upload (the biggest artifact) must fit in it
MAX_ATTEMPTS = 3  # botocore counts the first try: 1 call + 2 retries
_SESSION_LOCK = threading.Lock()
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)
RECORD_LIMIT_BYTES = 1 << 20  # a JSON record (pointer, manifest, decision) is a few KiB
_CHUNK_BYTES = 64 << 10
_MISSING_BUCKET = {"NoSuchBucket"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}


class S3Error(RuntimeError):
    """Anything the model store could not do; the message says what and where."""


class S3Unavailable(S3Error):
    """The endpoint did not answer (down, wrong URL, firewall)."""


class BucketMissing(S3Error):
    """The endpoint answered but the bucket does not exist."""


class PreconditionFailed(S3Error):
    """A conditional PUT lost: the object changed (If-Match) or exists (If-None-Match: *)."""


def make_client(settings: Settings | None = None) -> S3Client:
    """An S3 client for `settings.s3_endpoint_url` (None/empty → AWS) that fails in seconds."""
    settings = settings or get_settings()
    access_key, secret_key = settings.s3_credentials()  # (None, None) → boto3's default chain
    return client_for(
        settings.s3_endpoint_url or None, access_key, secret_key, settings.aws_default_region
    )


def client_for(
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    region: str,
    *,
    attempts: int = MAX_ATTEMPTS,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> S3Client:
    config = Config(
        region_name=region,
        connect_timeout=connect_timeout,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": attempts},
        # Custom endpoints (SeaweedFS, MinIO) rarely resolve <bucket>.<host>: use path style.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    with _SESSION_LOCK:  # a Session is not thread-safe; its clients are
        return _session().client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )


@functools.cache
def _session() -> boto3.session.Session:
    # One session for the process: it parses the S3 service model once, not once per client.
    return boto3.session.Session()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def s3_errors(client: S3Client, bucket: str) -> Iterator[None]:
    """Re-raise botocore failures as `S3Error`s that name the endpoint and bucket."""
    where = f"{client.meta.endpoint_url} (bucket {bucket!r})"
    try:
        yield
    except _UNREACHABLE as exc:
        raise S3Unavailable(f"S3 endpoint unreachable: {where}: {exc}") from exc
    except NoCredentialsError as exc:
        raise S3Error(f"no S3 credentials found for {where}: set AWS_ACCESS_KEY_ID") from exc
    except ClientError as exc:
        code = error_code(exc)
        if code in _MISSING_BUCKET:
            raise BucketMissing(
                f"bucket {bucket!r} does not exist at {client.meta.endpoint_url}: "
                "create it (`moviescore s3` does for the local server) or fix S3_BUCKET"
            ) from exc
        if code in _DENIED:
            raise S3Error(f"S3 refused the credentials for {where}: {exc}") from exc
        raise S3Error(f"S3 error at {where}: {exc}") from exc


def ensure_bucket(client: S3Client, bucket: str) -> None:
    """Create `bucket` unless it exists (idempotent)."""
    with s3_errors(client, bucket):
        try:
            client.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as exc:  # created concurrently by someone else: fine
            if error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise


_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}


class Bucket:
    """Object access to one bucket: a missing key is `None`, every failure an `S3Error`."""

    def __init__(self, client: S3Client, name: str) -> None:
        self.client, self.name = client, name

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str = "application/json",
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> str:
        """Write `key`; its new ETag. With `if_match` (an ETag) or `if_none_match="*"` the write
        is a compare-and-swap the server decides: `PreconditionFailed` when it lost."""
        conditions: dict[str, Any] = {}
        if if_match is not None:
            conditions["IfMatch"] = if_match
        if if_none_match is not None:
            conditions["IfNoneMatch"] = if_none_match
        with s3_errors(self.client, self.name):
            try:
                response = self.client.put_object(
                    Bucket=self.name, Key=key, Body=body, ContentType=content_type, **conditions
                )
            except ClientError as exc:
                # 409 ConditionalRequestConflict: AWS's answer to two racing conditional PUTs
                if error_code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                    raise PreconditionFailed(f"{key} changed under a conditional write") from exc
                raise
            return str(response.get("ETag", ""))

    def delete(self, keys: list[str]) -> None:
        with s3_errors(self.client, self.name):
            for key in keys:
                self.client.delete_object(Bucket=self.name, Key=key)

    def check(self) -> None:
        """Raise unless the bucket answers (reachable, exists, credentials accepted)."""
        with s3_errors(self.client, self.name):
            try:
                self.client.head_bucket(Bucket=self.name)
            except ClientError as exc:
                if error_code(exc) in {"404", "NotFound", "NoSuchBucket"}:
                    raise BucketMissing(
                        f"bucket {self.name!r} does not exist at {self.client.meta.endpoint_url}:"
                        " create it (`moviescore s3` does for the local server) or fix S3_BUCKET"
                    ) from exc
                raise

    def get(
        self, key: str, if_none_match: str | None = None, *, limit: int = RECORD_LIMIT_BYTES
    ) -> tuple[bytes | None, str | None]:
        """(body, ETag); (None, None) if absent; (None, if_none_match) if it still has that ETag.
        An object over `limit` bytes is a `RecordError`, found without reading it whole."""
        with s3_errors(self.client, self.name):
            try:
                if if_none_match:
                    response = self.client.get_object(
                        Bucket=self.name, Key=key, IfNoneMatch=if_none_match
                    )
                else:
                    response = self.client.get_object(Bucket=self.name, Key=key)
                where = f"s3://{self.name}/{key}"
                return _read_capped(response, limit, where), response["ETag"]
            except ClientError as exc:
                if error_code(exc) in {"304", "NotModified"}:
                    return None, if_none_match
                if error_code(exc) in _MISSING_KEY:
                    return None, None
                raise

    def size(self, key: str) -> int | None:
        """Content length from a HEAD; None if absent."""
        with s3_errors(self.client, self.name):
            try:
                return self.client.head_object(Bucket=self.name, Key=key)["ContentLength"]
            except ClientError as exc:
                if error_code(exc) in _MISSING_KEY:
                    return None
                raise

    def list(self, prefix: str, delimiter: str = "") -> tuple[list[str], list[str]]:
        """(keys, common prefixes) under `prefix`, every page."""
        keys: list[str] = []
        prefixes: list[str] = []
        with s3_errors(self.client, self.name):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix, Delimiter=delimiter
            )
            for page in pages:
                keys += [o["Key"] for o in page.get("Contents", [])]
                prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return keys, prefixes


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n:,} B"


def _read_capped(response: Any, limit: int, where: str) -> bytes:
    """The body of a GetObject answer, refused by its Content-Length, or after `limit` + 1
    bytes read in chunks when the length lies: never more than that in memory."""
    body = response["Body"]
    length = response.get("ContentLength")
    try:
        if isinstance(length, int) and length > limit:
            raise RecordError(where, f"it is {_size(length)}, over the {_size(limit)} limit")
        chunks, total = [], 0
        for chunk in body.iter_chunks(_CHUNK_BYTES):
            total += len(chunk)
            if total > limit:
                raise RecordError(where, f"it is over the {_size(limit)} limit")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        body.close()
