"""The model registry on S3: versioned bundles, a champion pointer, its history, run decisions.

Layout in the bucket:

    models/<version>/model.joblib     the fitted sklearn Pipeline
    models/<version>/manifest.json    caller's fields (model_name, params, metrics, feature_schema,
                                      data_fingerprint, wandb_run_id, …) + version, created_at,
                                      files {name: {sha256, size}}, and `signature` when keyed
    models/history/<UTC>-<version>.json  one object per champion change (never rewritten)
    models/champion.json              the serving pointer: version + decision; written LAST
    runs/<run_id>/decision.json       every promotion decision, promoted or not

A version id is `YYYYmmdd-HHMMSS-<model>-<6 hex>` (UTC): sortable by time, unique, readable.
Readers never see a pointer to a half-written version: `publish` uploads the model, then the
manifest, and HEADs the model file against the size the manifest records; `set_champion` reads
the manifest back, checks the model file again, appends history, and only then writes
`champion.json`. `load` verifies the manifest signature (when `MODEL_SIGNING_KEY` is
set) before fetching model bytes and the sha256 of every file before unpickling. Every error is
an `S3Error` (`moviescore.registry.s3`): `S3Unavailable`, `BucketMissing`, `VersionNotFound`,
`IntegrityError`, or a plain `RegistryError`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import joblib

from moviescore.config import Settings, get_settings
from moviescore.registry import signing
from moviescore.registry.s3 import Bucket, S3Error, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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


class IntegrityError(RegistryError):
    """A bundle failed verification; `reason`: unsigned, bad signature, sha256 mismatch, …."""

    def __init__(self, version: str, reason: str, detail: str) -> None:
        super().__init__(f"model {version} refused ({reason}): {detail}")
        self.version, self.reason = version, reason


MAX_EXTRA_FILE_BYTES = 32 * 2**20  # an extra file (e.g. the comparables index) is small data


@dataclass(frozen=True)
class ModelBundle:
    version: str
    manifest: dict[str, Any]
    pipeline: Any
    files: dict[str, bytes] = field(default_factory=dict)  # verified extra files, by name


def new_version_id(model_name: str, now: datetime | None = None) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", model_name.lower()).strip("_") or "model"
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(3)}"


def _json_default(value: Any) -> Any:
    for attr in ("item", "tolist", "isoformat"):  # numpy scalars/arrays, dates
        if hasattr(value, attr):
            return getattr(value, attr)()
    return str(value)


def _to_json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=_json_default).encode()


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class Registry:
    def __init__(self, client: S3Client, bucket: str, *, signing_key: str | None = None) -> None:
        self.client, self.bucket, self.signing_key = client, bucket, signing_key or None
        self.store = Bucket(client, bucket)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Registry:
        settings = settings or get_settings()
        key = settings.model_signing_key
        return cls(
            make_client(settings),
            settings.s3_bucket,
            signing_key=key.get_secret_value() if key else None,
        )

    def _get_json(self, key: str) -> dict[str, Any] | None:
        raw, _ = self.store.get(key)
        return None if raw is None else self._parse(key, raw)

    def _parse(self, key: str, raw: bytes) -> dict[str, Any]:
        try:
            return dict(json.loads(raw))
        except ValueError as exc:
            raise RegistryError(f"s3://{self.bucket}/{key} is not valid JSON: {exc}") from exc

    # --- versions ---------------------------------------------------------------------------
    def publish(
        self,
        pipeline: Any,
        manifest: dict[str, Any],
        extra_files: dict[str, bytes] | None = None,
    ) -> str:
        """Upload a new version (model and `extra_files`, then manifest), HEAD every file; its id.
        Extra files are sha256-verified like the model and handed back by `load`."""
        model_name = manifest.get("model_name")
        if not isinstance(model_name, str) or not model_name:
            raise ValueError("manifest needs a 'model_name'")
        extra = dict(extra_files or {})
        for name, blob in extra.items():
            if name in {MODEL_FILE, MANIFEST_FILE} or "/" in name or name.startswith("."):
                raise ValueError(f"bad extra file name {name!r}")
            if len(blob) > MAX_EXTRA_FILE_BYTES:
                raise ValueError(f"{name} is {len(blob)} bytes, over {MAX_EXTRA_FILE_BYTES}")
        version = new_version_id(model_name)
        buffer = io.BytesIO()
        joblib.dump(pipeline, buffer)
        model = buffer.getvalue()
        doc = json.loads(_to_json(manifest))  # plain JSON types: signed == stored == read back
        doc.pop(signing.SIGNATURE_FIELD, None)
        doc |= {
            "version": version,
            "created_at": _now().isoformat(),
            "files": {
                name: {"sha256": _sha256(blob), "size": len(blob)}
                for name, blob in {MODEL_FILE: model, **extra}.items()
            },
        }
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        self.store.put(self._key(version, MODEL_FILE), model, "application/octet-stream")
        for name, blob in extra.items():
            self.store.put(self._key(version, name), blob, "application/octet-stream")
        self.store.put(self._key(version, MANIFEST_FILE), _to_json(doc))
        self._check_uploaded(version, doc)
        return version

    def _key(self, version: str, name: str) -> str:
        if not VERSION_RE.match(version):
            raise VersionNotFound(
                f"{version!r} is not a registry version id (like 20261122-015137-xgboost-3f9a1c)"
            )
        return f"{MODELS}{version}/{name}"

    def _check_uploaded(self, version: str, manifest: dict[str, Any]) -> None:
        """HEAD every file of the version: present, with the size the manifest records."""
        for name, meta in self._files(version, manifest).items():
            size = self.store.size(self._key(version, name))
            if size != meta.get("size"):
                raise IntegrityError(version, "missing file", f"{name}: size {size}, not {meta}")

    def manifest(self, version: str) -> dict[str, Any]:
        """A version's manifest; signature-checked when keyed (model bytes are not fetched)."""
        doc = self._get_json(self._key(version, MANIFEST_FILE))
        if doc is None:
            raise VersionNotFound(f"no model version {version} in s3://{self.bucket}/{MODELS}")
        if self.signing_key:
            try:
                signing.verify(doc, self.signing_key)
            except signing.SignatureError as exc:
                raise IntegrityError(version, exc.reason, str(exc)) from exc
        if doc.get("version") != version:
            raise IntegrityError(version, "bad manifest", f"it names {doc.get('version')!r}")
        return doc

    @staticmethod
    def _files(version: str, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
        files = manifest.get("files")
        if not isinstance(files, dict) or MODEL_FILE not in files:
            raise IntegrityError(version, "bad manifest", f"no sha256 for {MODEL_FILE}")
        if any("/" in name or name.startswith(".") for name in files):
            raise IntegrityError(version, "bad manifest", "file names must be plain names")
        return files

    def verify(self, version: str) -> tuple[dict[str, Any], dict[str, bytes]]:
        """(manifest, file bytes) after signature and sha256 checks; nothing is unpickled."""
        manifest = self.manifest(version)
        blobs: dict[str, bytes] = {}
        for name, meta in self._files(version, manifest).items():
            size = meta.get("size")
            if name != MODEL_FILE and not (isinstance(size, int) and size <= MAX_EXTRA_FILE_BYTES):
                raise IntegrityError(version, "bad manifest", f"{name}: size {size!r}")
            blob, _ = self.store.get(self._key(version, name))
            if blob is None:
                raise IntegrityError(version, "missing file", f"{name} is not in the bucket")
            actual = _sha256(blob)
            if not hmac.compare_digest(actual, str(meta.get("sha256", ""))):
                raise IntegrityError(
                    version, "sha256 mismatch", f"{name}: {actual} != {meta.get('sha256')}"
                )
            blobs[name] = blob
        return manifest, blobs

    def load(self, version: str) -> ModelBundle:
        manifest, blobs = self.verify(version)
        pipeline = joblib.load(io.BytesIO(blobs.pop(MODEL_FILE)))
        return ModelBundle(version, manifest, pipeline, files=blobs)

    def list_versions(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Complete versions' manifests, newest first, with `champion: bool`: the `limit` newest,
        or all. Only the manifests that can be among the newest are read (one GET each)."""
        _, prefixes = self.store.list(MODELS, "/")
        ids = sorted(
            (v for p in prefixes if VERSION_RE.match(v := p[len(MODELS) :].rstrip("/"))),
            reverse=True,
        )  # models/history/ and strays are not versions
        if limit is not None and len(ids) > limit:
            # Ids start with their creation second; keep the ties of the last second kept, the
            # manifests' created_at orders them.
            second = ids[limit - 1][:VERSION_SECOND_CHARS]
            ids = [v for v in ids if v[:VERSION_SECOND_CHARS] >= second]
        current = (self.champion() or {}).get("version")
        out = []
        for version in ids:
            try:
                doc = self.manifest(version)
            except VersionNotFound:
                continue  # upload in progress or abandoned: no manifest yet
            except RegistryError as exc:  # listed, so an operator sees the broken one
                doc = {"version": version, "error": str(exc)}
            out.append(doc | {"champion": version == current})
        newest = sorted(
            out, key=lambda m: (str(m.get("created_at", "")), m["version"]), reverse=True
        )
        return newest[:limit]

    # --- champion ---------------------------------------------------------------------------
    def champion(self) -> dict[str, Any] | None:
        return self._get_json(CHAMPION_KEY)

    def champion_if_changed(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """(pointer, etag); (None, etag) if unchanged since `etag`; (None, None) if no champion."""
        raw, new_etag = self.store.get(CHAMPION_KEY, if_none_match=etag)
        return (None if raw is None else self._parse(CHAMPION_KEY, raw)), new_etag

    def set_champion(
        self, version: str, decision: dict[str, Any], *, action: str = "promote"
    ) -> dict[str, Any]:
        """Point serving at `version`: history entry first, `champion.json` last."""
        manifest = self.manifest(version)
        self._check_uploaded(version, manifest)
        previous = (self.champion() or {}).get("version")
        now = _now()
        pointer = {
            "version": version,
            "model_name": manifest.get("model_name"),
            "metrics": manifest.get("metrics", {}),
            "created_at": manifest.get("created_at"),
            "promoted_at": now.isoformat(),
            "previous_version": previous,
            "action": action,
            "decision": decision,
        }
        body = _to_json(pointer)
        self.store.put(f"{HISTORY}{now:%Y%m%dT%H%M%S%fZ}-{version}.json", body)
        self.store.put(CHAMPION_KEY, body)
        return self._parse(CHAMPION_KEY, body)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Champion changes, newest first (the `limit` newest, or all)."""
        return list(itertools.islice(self._history_newest_first(), limit))

    def _history_newest_first(self) -> Iterator[dict[str, Any]]:
        """History entries fetched one GET at a time, so a reader can stop early."""
        keys, _ = self.store.list(HISTORY)
        for key in sorted(keys, reverse=True):
            entry = self._get_json(key)
            if entry is not None:
                yield entry

    def rollback(self, version: str | None = None) -> dict[str, Any]:
        """Make `version` (default: the champion before the current one) the champion again."""
        current = (self.champion() or {}).get("version")
        target = version or self._previous_champion(current)
        if target == current:
            raise RegistryError(f"{target} is already the champion")
        self.verify(target)  # a tampered or incomplete version is refused here
        reason = f"rollback from {current} to {target}"
        return self.set_champion(target, {"promote": True, "reason": reason}, action="rollback")

    def _previous_champion(self, current: str | None) -> str:
        """The newest other version in the history after `current`'s own entry (entries newer
        than it were written by a promotion that never reached champion.json); the newest
        other version if `current` has no entry. Reads the history only as far as needed."""
        newest_other = None
        seen_current = False
        for entry in self._history_newest_first():
            candidate = entry.get("version")
            if candidate == current:
                seen_current = True
            elif candidate and seen_current:
                return str(candidate)
            elif candidate and newest_other is None:
                newest_other = str(candidate)
        if newest_other is not None and not seen_current:
            return newest_other
        raise RegistryError(f"no earlier champion than {current} in the history to roll back to")

    # --- run decisions ----------------------------------------------------------------------
    def _run_key(self, run_id: str) -> str:
        if not run_id or "/" in run_id or run_id in {".", ".."} or not run_id.isprintable():
            raise ValueError(f"bad run id {run_id!r}")
        return f"{RUNS}{run_id}/decision.json"

    def write_decision(self, run_id: str, decision: dict[str, Any]) -> None:
        self.store.put(self._run_key(run_id), _to_json(decision))

    def decision(self, run_id: str) -> dict[str, Any] | None:
        return self._get_json(self._run_key(run_id))

    def decisions(self, limit: int | None = 10) -> list[dict[str, Any]]:
        """The newest pipeline runs' decisions, promoted or not (run ids sort by date)."""
        _, prefixes = self.store.list(RUNS, "/")
        run_ids = sorted((p[len(RUNS) :].rstrip("/") for p in prefixes), reverse=True)[:limit]
        found = (self.decision(run_id) for run_id in run_ids)
        return [d for d in found if d is not None]
