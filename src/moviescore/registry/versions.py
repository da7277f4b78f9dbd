"""Model versions in the registry: publish, verify, load, list, discard.

`publish` uploads the model and any extra files, then the manifest, and HEADs every file against
the size the manifest records. `load` verifies the manifest signature (when `MODEL_SIGNING_KEY`
is set) before fetching model bytes, and the sha256 of every file before unpickling.
"""

from __future__ import annotations

import hmac
import io
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import joblib

from moviescore.records import FileEntry, ListedVersion, Manifest, RecordError, parse
from moviescore.registry import signing
from moviescore.registry.base import (
    MANIFEST_FILE,
    MAX_EXTRA_FILE_BYTES,
    MODEL_FILE,
    MODELS,
    VERSION_RE,
    VERSION_SECOND_CHARS,
    IntegrityError,
    RegistryBase,
    RegistryError,
    VersionNotFound,
    sha256_hex,
    to_json,
    utc_now,
)


@dataclass(frozen=True)
class ModelBundle:
    version: str
    manifest: Manifest
    pipeline: Any
    files: dict[str, bytes] = field(default_factory=dict)  # verified extra files, by name


def new_version_id(model_name: str, now: datetime | None = None) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", model_name.lower()).strip("_") or "model"
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(3)}"


class Versions(RegistryBase):
    def publish(
        self,
        pipeline: Any,
        manifest: Manifest | Mapping[str, Any],
        extra_files: Mapping[str, bytes] | None = None,
    ) -> str:
        """Upload a new version (model and `extra_files`, then manifest), HEAD every file; its id.
        Extra files are sha256-verified like the model and handed back by `load`."""
        fields = parse(Manifest, manifest, "the manifest to publish")
        extra = dict(extra_files or {})
        for name, blob in extra.items():
            if name in {MODEL_FILE, MANIFEST_FILE} or "/" in name or name.startswith("."):
                raise ValueError(f"bad extra file name {name!r}")
            if len(blob) > MAX_EXTRA_FILE_BYTES:
                raise ValueError(f"{name} is {len(blob)} bytes, over {MAX_EXTRA_FILE_BYTES}")
        version = new_version_id(fields.model_name)
        buffer = io.BytesIO()
        joblib.dump(pipeline, buffer)
        model = buffer.getvalue()
        doc = json.loads(to_json(fields.dump()))  # plain JSON: signed == stored == read back
        doc.pop(signing.SIGNATURE_FIELD, None)
        doc |= {
            "version": version,
            "created_at": utc_now().isoformat(),
            "files": {
                name: {"sha256": sha256_hex(blob), "size": len(blob)}
                for name, blob in {MODEL_FILE: model, **extra}.items()
            },
        }
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        self.store.put(self._key(version, MODEL_FILE), model, "application/octet-stream")
        for name, blob in extra.items():
            self.store.put(self._key(version, name), blob, "application/octet-stream")
        self.store.put(self._key(version, MANIFEST_FILE), to_json(doc))
        self._check_uploaded(version, self._parse(Manifest, self._key(version, MANIFEST_FILE), doc))
        return version

    def _key(self, version: str, name: str) -> str:
        if not VERSION_RE.match(version):
            raise VersionNotFound(
                f"{version!r} is not a registry version id (like 20261122-015137-xgboost-3f9a1c)"
            )
        return f"{MODELS}{version}/{name}"

    def _check_uploaded(self, version: str, manifest: Manifest) -> None:
        """HEAD every file of the version: present, with the size the manifest records."""
        for name, meta in self._files(version, manifest).items():
            size = self.store.size(self._key(version, name))
            if size != meta.size:
                raise IntegrityError(version, "missing file", f"{name}: size {size}, not {meta}")

    def manifest(self, version: str) -> Manifest:
        """A version's manifest; signature-checked when keyed (model bytes are not fetched)."""
        key = self._key(version, MANIFEST_FILE)
        try:
            raw, _ = self.store.get(key)
        except RecordError as exc:  # over the record size limit
            raise IntegrityError(version, "bad manifest", exc.reason) from exc
        if raw is None:
            raise VersionNotFound(f"no model version {version} in s3://{self.bucket}/{MODELS}")
        try:
            doc = json.loads(raw)  # the signature covers the stored JSON, before any parsing
        except ValueError as exc:
            raise IntegrityError(version, "bad manifest", f"not JSON: {exc}") from exc
        if self.signing_key:
            try:
                signing.verify(doc if isinstance(doc, dict) else {}, self.signing_key)
            except signing.SignatureError as exc:
                raise IntegrityError(version, exc.reason, str(exc)) from exc
        try:
            manifest = self._parse(Manifest, key, doc)
        except RecordError as exc:
            raise IntegrityError(version, "bad manifest", exc.reason) from exc
        if manifest.version != version:
            raise IntegrityError(version, "bad manifest", f"it names {manifest.version!r}")
        return manifest

    @staticmethod
    def _files(version: str, manifest: Manifest) -> dict[str, FileEntry]:
        files = manifest.files
        if not files or MODEL_FILE not in files:
            raise IntegrityError(version, "bad manifest", f"no sha256 for {MODEL_FILE}")
        if any("/" in name or name.startswith(".") for name in files):
            raise IntegrityError(version, "bad manifest", "file names must be plain names")
        return files

    def verify(self, version: str) -> tuple[Manifest, dict[str, bytes]]:
        """(manifest, file bytes) after signature and sha256 checks; nothing is unpickled."""
        manifest = self.manifest(version)
        blobs: dict[str, bytes] = {}
        for name, meta in self._files(version, manifest).items():
            size = meta.size
            if name != MODEL_FILE and not (isinstance(size, int) and size <= MAX_EXTRA_FILE_BYTES):
                raise IntegrityError(version, "bad manifest", f"{name}: size {size!r}")
            try:  # no more than the manifest says is read
                blob, _ = self.store.get(self._key(version, name), limit=meta.size)
            except RecordError as exc:
                raise IntegrityError(version, "file too large", f"{name}: {exc.reason}") from exc
            if blob is None:
                raise IntegrityError(version, "missing file", f"{name} is not in the bucket")
            actual = sha256_hex(blob)
            if not hmac.compare_digest(actual, meta.sha256):
                raise IntegrityError(
                    version, "sha256 mismatch", f"{name}: {actual} != {meta.sha256}"
                )
            blobs[name] = blob
        return manifest, blobs

    def load(self, version: str) -> ModelBundle:
        manifest, blobs = self.verify(version)
        pipeline = joblib.load(io.BytesIO(blobs.pop(MODEL_FILE)))
        return ModelBundle(version, manifest, pipeline, files=blobs)

    def list_versions(self, limit: int | None = None) -> list[ListedVersion]:
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
        current = self._champion_version()
        out = []
        for version in ids:
            champion = version == current
            try:
                manifest = self.manifest(version)
                self._check_uploaded(version, manifest)  # a version whose files are gone is marked
                out.append(ListedVersion(version, champion, manifest=manifest))
            except VersionNotFound:
                continue  # upload in progress or abandoned: no manifest yet
            except RegistryError as exc:  # listed, so an operator sees the broken one
                out.append(ListedVersion(version, champion, error=str(exc)))
        newest = sorted(out, key=lambda v: (v.created_at, v.version), reverse=True)
        return newest[:limit]

    def discard(self, version: str) -> None:
        """Delete a published version that never became champion (a promotion that lost)."""
        if version == self._champion_version():
            raise RegistryError(f"{version} is the champion; it cannot be discarded")
        self.store.delete([self._key(version, MODEL_FILE), self._key(version, MANIFEST_FILE)])
