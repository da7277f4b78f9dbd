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
set) before fetching model bytes and the sha256 of every file before unpickling. Every record
read is parsed here, once, into its model (`moviescore.records`); one that does not parse raises
`RecordError` (key and reason), which a reader may skip and report. Every other error is an
`S3Error` (`moviescore.registry.s3`): `S3Unavailable`, `BucketMissing`, `VersionNotFound`,
`IntegrityError`, or a plain `RegistryError`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import logging
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import joblib

from moviescore.config import Settings, get_settings
from moviescore.records import (
    ChampionPointer,
    FileEntry,
    ListedVersion,
    Manifest,
    PromotionRecord,
    Record,
    RecordError,
    json_default,
    parse,
)
from moviescore.registry import signing
from moviescore.registry.s3 import Bucket, S3Error, make_client

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


class IntegrityError(RegistryError):
    """A bundle failed verification; `reason`: unsigned, bad signature, sha256 mismatch, …."""

    def __init__(self, version: str, reason: str, detail: str) -> None:
        super().__init__(f"model {version} refused ({reason}): {detail}")
        self.version, self.reason = version, reason


R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class ModelBundle:
    version: str
    manifest: Manifest
    pipeline: Any


def new_version_id(model_name: str, now: datetime | None = None) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", model_name.lower()).strip("_") or "model"
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(3)}"


def _to_json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=json_default).encode()


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

    def _get(self, model: type[R], key: str) -> R | None:
        raw, _ = self.store.get(key)
        return None if raw is None else self._parse(model, key, raw)

    def _parse(self, model: type[R], key: str, raw: bytes | Mapping[str, Any]) -> R:
        return parse(model, raw, f"s3://{self.bucket}/{key}")

    # --- versions ---------------------------------------------------------------------------
    def publish(self, pipeline: Any, manifest: Manifest | Mapping[str, Any]) -> str:
        """Upload a new version (model, then manifest), HEAD the model file; its id."""
        fields = parse(Manifest, manifest, "the manifest to publish")
        version = new_version_id(fields.model_name)
        buffer = io.BytesIO()
        joblib.dump(pipeline, buffer)
        model = buffer.getvalue()
        doc = json.loads(_to_json(fields.dump()))  # plain JSON: signed == stored == read back
        doc.pop(signing.SIGNATURE_FIELD, None)
        doc |= {
            "version": version,
            "created_at": _now().isoformat(),
            "files": {MODEL_FILE: {"sha256": _sha256(model), "size": len(model)}},
        }
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        self.store.put(self._key(version, MODEL_FILE), model, "application/octet-stream")
        self.store.put(self._key(version, MANIFEST_FILE), _to_json(doc))
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
            try:  # no more than the manifest says is read
                blob, _ = self.store.get(self._key(version, name), limit=meta.size)
            except RecordError as exc:
                raise IntegrityError(version, "file too large", f"{name}: {exc.reason}") from exc
            if blob is None:
                raise IntegrityError(version, "missing file", f"{name} is not in the bucket")
            actual = _sha256(blob)
            if not hmac.compare_digest(actual, meta.sha256):
                raise IntegrityError(
                    version, "sha256 mismatch", f"{name}: {actual} != {meta.sha256}"
                )
            blobs[name] = blob
        return manifest, blobs

    def load(self, version: str) -> ModelBundle:
        manifest, blobs = self.verify(version)
        return ModelBundle(version, manifest, joblib.load(io.BytesIO(blobs[MODEL_FILE])))

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

    # --- champion ---------------------------------------------------------------------------
    def champion(self) -> ChampionPointer | None:
        return self._get(ChampionPointer, CHAMPION_KEY)

    def _champion_version(self) -> str | None:
        try:
            pointer = self.champion()
        except RecordError as exc:  # names no version; its readers report it, a new one replaces it
            log.debug("%s", exc)
            return None
        return pointer.version if pointer else None

    def champion_if_changed(self, etag: str | None) -> tuple[ChampionPointer | None, str | None]:
        """(pointer, etag); (None, etag) if unchanged since `etag`; (None, None) if no champion."""
        raw, new_etag = self.store.get(CHAMPION_KEY, if_none_match=etag)
        return (None if raw is None else self._parse(ChampionPointer, CHAMPION_KEY, raw)), new_etag

    def set_champion(
        self,
        version: str,
        decision: PromotionRecord | Mapping[str, Any],
        *,
        action: str = "promote",
    ) -> ChampionPointer:
        """Point serving at `version`: history entry first, `champion.json` last."""
        manifest = self.manifest(version)
        self._check_uploaded(version, manifest)
        previous = self._champion_version()
        now = _now()
        pointer = ChampionPointer(
            version=version,
            model_name=manifest.model_name,
            metrics=manifest.metrics,
            created_at=manifest.created_at,
            promoted_at=now.isoformat(),
            previous_version=previous,
            action=action,
            decision=parse(PromotionRecord, decision, f"the decision promoting {version}"),
        )
        body = _to_json(pointer.dump())
        self.store.put(f"{HISTORY}{now:%Y%m%dT%H%M%S%fZ}-{version}.json", body)
        self.store.put(CHAMPION_KEY, body)
        return self._parse(ChampionPointer, CHAMPION_KEY, body)

    def history(
        self, limit: int | None = None, skipped: list[RecordError] | None = None
    ) -> list[ChampionPointer]:
        """Champion changes, newest first (the `limit` newest, or all); an entry that does not
        parse is left out, logged and appended to `skipped`."""
        return list(itertools.islice(self._history_newest_first(skipped), limit))

    def _history_newest_first(
        self, skipped: list[RecordError] | None = None
    ) -> Iterator[ChampionPointer]:
        """History entries fetched one GET at a time, so a reader can stop early."""
        keys, _ = self.store.list(HISTORY)
        for key in sorted(keys, reverse=True):
            entry = self._get_or_skip(ChampionPointer, key, skipped)
            if entry is not None:
                yield entry

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

    def rollback(self, version: str | None = None) -> ChampionPointer:
        """Make `version` (default: the newest earlier champion that still verifies; broken
        ones are skipped and logged) the champion again."""
        current = self._champion_version()
        if version == current and version is not None:
            raise RegistryError(f"{version} is already the champion")
        target, skipped = version, []
        for candidate in [version] if version else self._earlier_champions(current):
            try:
                self.verify(candidate)  # a tampered or incomplete version is refused here
            except IntegrityError as exc:
                if version:
                    raise
                skipped.append(candidate)
                log.warning("rollback skips %s", exc)
                continue
            target = candidate
            break
        if target is None:
            raise RegistryError(
                f"no earlier champion than {current} in the history to roll back to"
                + (f" that verifies (skipped {', '.join(skipped)})" if skipped else "")
            )
        reason = f"rollback from {current} to {target}"
        decision = PromotionRecord.model_validate({"promote": True, "reason": reason})
        return self.set_champion(target, decision, action="rollback")

    def _earlier_champions(self, current: str | None) -> Iterator[str]:
        """Versions to roll back to, best first: those in the history after `current`'s own
        entry (entries newer than it were written by a promotion that never reached
        champion.json), newest first; every other version if `current` has no entry. Reads the
        history only as far as needed."""
        others: list[str] = []
        seen_current = False
        for entry in self._history_newest_first():
            candidate = entry.version
            if candidate == current:
                seen_current = True
            elif candidate and seen_current:
                yield str(candidate)
            elif candidate:
                others.append(str(candidate))
        if not seen_current:
            yield from dict.fromkeys(others)

    # --- run decisions ----------------------------------------------------------------------
    def _run_key(self, run_id: str) -> str:
        if not run_id or "/" in run_id or run_id in {".", ".."} or not run_id.isprintable():
            raise ValueError(f"bad run id {run_id!r}")
        return f"{RUNS}{run_id}/decision.json"

    def write_decision(self, run_id: str, decision: PromotionRecord | Mapping[str, Any]) -> None:
        key = self._run_key(run_id)
        record = parse(PromotionRecord, decision, f"the decision of {run_id}")
        self.store.put(key, _to_json(record.dump()))

    def decision(self, run_id: str) -> PromotionRecord | None:
        return self._get(PromotionRecord, self._run_key(run_id))

    def decisions(
        self, limit: int | None = 10, skipped: list[RecordError] | None = None
    ) -> list[PromotionRecord]:
        """The newest pipeline runs' decisions, promoted or not (run ids sort by date); one that
        does not parse is left out, logged and appended to `skipped`."""
        _, prefixes = self.store.list(RUNS, "/")
        run_ids = sorted((p[len(RUNS) :].rstrip("/") for p in prefixes), reverse=True)[:limit]
        found = (
            self._get_or_skip(PromotionRecord, self._run_key(run_id), skipped) for run_id in run_ids
        )
        return [d for d in found if d is not None]
