"""The model registry on S3: versioned bundles, a champion pointer, its history, run decisions.

Layout in the bucket:

    models/<version>/model.joblib     the fitted sklearn Pipeline
    models/<version>/manifest.json    caller's fields (model_name, params, metrics, feature_schema,
                                      data_fingerprint, wandb_run_id, …) + version, created_at,
                                      files {name: {sha256, size}}, and `signature` when keyed
    models/champion.json              the serving pointer: version, sequence, previous_version
                                      and the decision; written LAST, by a compare-and-swap
    models/history/seq-<sequence>.json  one object per champion change, written once
                                      (If-None-Match: *) after the pointer moved; a chain
    runs/<run_id>/attempts/<UTC>.json every promotion attempt of a run, never overwritten
    runs/<run_id>/decision.json       the latest attempt's decision, promoted or not

A version id is `YYYYmmdd-HHMMSS-<model>-<6 hex>` (UTC): sortable by time, unique, readable.
Readers never see a pointer to a half-written version: `publish` uploads the model, then the
manifest, and HEADs the model file against the size the manifest records; `set_champion` reads
the manifest back, checks the model file again, appends history, and only then writes
`champion.json` with a conditional PUT: If-Match on the ETag read when the decision was made
(If-None-Match: * for the first champion), so of two promotions that read the same pointer
exactly one moves it and the other gets `ChampionChanged`, re-reads and re-decides. The pointer
carries a `sequence` (+1 per change) and `previous_version`; its history entry is keyed by the
sequence and written after the swap, so a crash in between leaves a gap the next change fills
(from the pointer itself), never a chain that lies. With a key the pointer is signed over all
its fields. `load` verifies the manifest signature (when `MODEL_SIGNING_KEY` is
set) before fetching model bytes and the sha256 of every file before unpickling. Every record
read is parsed here, once, into its model (`moviescore.records`); one that does not parse raises
`RecordError` (key and reason), which a reader may skip and report. Every other error is an
`S3Error` (`moviescore.registry.s3`): `S3Unavailable`, `BucketMissing`, `VersionNotFound`,
`IntegrityError`, or a plain `RegistryError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import itertools
import json
import logging
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
from moviescore.registry.s3 import Bucket, PreconditionFailed, S3Error, make_client

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


@dataclass(frozen=True)
class ChampionState:
    """`champion.json` as one read saw it: the pointer (None when absent or unreadable, then
    `error` says why) and the ETag a compare-and-swap must match (None: no pointer yet)."""

    pointer: ChampionPointer | None
    etag: str | None
    error: str | None = None


@dataclass(frozen=True)
class ModelBundle:
    version: str
    manifest: Manifest
    pipeline: Any
    files: dict[str, bytes] = field(default_factory=dict)  # verified extra files, by name


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
        doc = json.loads(_to_json(fields.dump()))  # plain JSON: signed == stored == read back
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
            actual = _sha256(blob)
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

    def champion_state(self) -> ChampionState:
        """The pointer and its ETag, read once: what a promotion decides against."""
        raw, etag = self.store.get(CHAMPION_KEY)
        if raw is None:
            return ChampionState(None, None)
        try:
            return ChampionState(self._parse(ChampionPointer, CHAMPION_KEY, raw), etag)
        except RecordError as exc:
            return ChampionState(None, etag, error=exc.reason)

    def champion_if_changed(self, etag: str | None) -> tuple[ChampionPointer | None, str | None]:
        """(pointer, etag); (None, etag) if unchanged since `etag`; (None, None) if no champion.
        A keyed registry raises `PointerRefused` for a pointer the key holder did not write."""
        raw, new_etag = self.store.get(CHAMPION_KEY, if_none_match=etag)
        if raw is None:
            return None, new_etag
        if self.signing_key:
            try:
                doc = json.loads(raw)
                signing.verify(doc if isinstance(doc, dict) else {}, self.signing_key, "pointer")
            except (ValueError, signing.SignatureError) as exc:
                raise PointerRefused(f"{CHAMPION_KEY} refused: {exc}", new_etag) from exc
        return self._parse(ChampionPointer, CHAMPION_KEY, raw), new_etag

    def set_champion(
        self,
        version: str,
        decision: PromotionRecord | Mapping[str, Any],
        *,
        action: str = "promote",
        based_on: ChampionState | None = None,
    ) -> ChampionPointer:
        """Point serving at `version` if the pointer is still what `based_on` read (default:
        read it now); `ChampionChanged` if another writer moved it first. Then its history."""
        manifest = self.manifest(version)
        self._check_uploaded(version, manifest)
        state = based_on if based_on is not None else self.champion_state()
        current = self._chain_head(state)
        if current is not None:
            self._write_history(current)  # fills the gap a crash after an earlier swap left
        fields: dict[str, Any] = {"ds": manifest.ds} if manifest.ds else {}
        if manifest.demo:
            fields["demo"] = True
        pointer = ChampionPointer(
            version=version,
            sequence=(current.sequence or 0) + 1 if current else 1,
            model_name=manifest.model_name,
            metrics=manifest.metrics,
            created_at=manifest.created_at,
            promoted_at=_now().isoformat(),
            previous_version=current.version if current else None,
            action=action,
            decision=parse(PromotionRecord, decision, f"the decision promoting {version}"),
            **fields,
        )
        doc = json.loads(_to_json(pointer.dump()))  # plain JSON: signed == stored == read back
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        body = _to_json(doc)
        try:
            if state.etag is None:
                self.store.put(CHAMPION_KEY, body, if_none_match="*")
            else:
                self.store.put(CHAMPION_KEY, body, if_match=state.etag)
        except PreconditionFailed as exc:
            was = current.version if current else "no champion"
            raise ChampionChanged(
                f"{CHAMPION_KEY} changed since it was read ({was}): re-read and decide again"
            ) from exc
        written = self._parse(ChampionPointer, CHAMPION_KEY, body)
        self._write_history(written)
        return written

    def _chain_head(self, state: ChampionState) -> ChampionPointer | None:
        """The pointer a new one follows: `state`'s, unless the history holds a later link (the
        pointer went backwards: an old pointer written back), whose chain then continues."""
        keys, _ = self.store.list(f"{HISTORY}seq-")
        newest = self._get(ChampionPointer, max(keys)) if keys else None
        current = state.pointer
        if newest is None or newest.sequence is None:
            return current
        if current is None or (current.sequence or 0) < newest.sequence:
            return newest
        return current

    def _write_history(self, pointer: ChampionPointer) -> None:
        """The history entry of a pointer that reached `champion.json`, once (If-None-Match)."""
        if pointer.sequence is None:
            return  # a pointer of an older release: its entry was written before it
        key = f"{HISTORY}seq-{pointer.sequence:012d}.json"
        if self.store.size(key) is not None:
            return
        doc = json.loads(_to_json(pointer.dump()))
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        # PreconditionFailed: written meanwhile by the next promotion's gap filling (the same)
        with contextlib.suppress(PreconditionFailed):
            self.store.put(key, _to_json(doc), if_none_match="*")

    def discard(self, version: str) -> None:
        """Delete a published version that never became champion (a promotion that lost)."""
        if version == self._champion_version():
            raise RegistryError(f"{version} is the champion; it cannot be discarded")
        self.store.delete([self._key(version, MODEL_FILE), self._key(version, MANIFEST_FILE)])

    def check(self) -> None:
        """Raise an `S3Error` unless the bucket is reachable, exists and accepts our key."""
        self.store.check()

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
        head = self._chain_head(self.champion_state())
        current = head.version if head else None
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
    def _run_prefix(self, run_id: str) -> str:
        if not run_id or "/" in run_id or run_id in {".", ".."} or not run_id.isprintable():
            raise ValueError(f"bad run id {run_id!r}")
        return f"{RUNS}{run_id}/"

    def write_decision(self, run_id: str, decision: PromotionRecord | Mapping[str, Any]) -> str:
        """Keep the attempt (a new object, never overwritten) and make it the run's latest
        decision; returns the attempt's key."""
        prefix = self._run_prefix(run_id)
        record = parse(PromotionRecord, decision, f"the decision of {run_id}")
        body = _to_json(record.dump())
        key = f"{prefix}attempts/{_now():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}.json"
        self.store.put(key, body, if_none_match="*")
        self.store.put(f"{prefix}decision.json", body)
        return key

    def decision(self, run_id: str) -> PromotionRecord | None:
        return self._get(PromotionRecord, f"{self._run_prefix(run_id)}decision.json")

    def attempts(self, run_id: str) -> list[PromotionRecord]:
        """Every attempt of a run, oldest first; one that does not parse is skipped."""
        keys, _ = self.store.list(f"{self._run_prefix(run_id)}attempts/")
        out = []
        for key in sorted(keys):
            try:
                record = self._get(PromotionRecord, key)
            except RecordError:
                continue
            if record is not None:
                out.append(record)
        return out

    def decisions(
        self, limit: int | None = 10, skipped: list[RecordError] | None = None
    ) -> list[PromotionRecord]:
        """The newest pipeline runs' decisions, promoted or not (run ids sort by date); one that
        does not parse is left out, logged and appended to `skipped`."""
        _, prefixes = self.store.list(RUNS, "/")
        run_ids = sorted((p[len(RUNS) :].rstrip("/") for p in prefixes), reverse=True)[:limit]
        found = (
            self._get_or_skip(PromotionRecord, f"{self._run_prefix(run_id)}decision.json", skipped)
            for run_id in run_ids
        )
        return [d for d in found if d is not None]
