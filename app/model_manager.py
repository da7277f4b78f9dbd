"""Keeps the champion model in memory and swaps in a new one when the registry says so.

A background thread polls `models/champion.json` with a conditional GET (an unchanged pointer
costs one 304). A new version is downloaded, verified and unpickled on that thread, never on
the request path, and published with a single reference assignment of an immutable
`ServedModel`: a request sees the old model or the new one, never half of either. Anything that
goes wrong keeps the old model; a version that failed is retried only after an exponential
backoff, so a corrupt upload does not cost a download every poll.

With `MODEL_SIGNING_KEY` the registry refuses a pointer the key holder did not sign, and this
manager refuses a signed pointer whose `sequence` is lower than the one it serves (a replay of
an old pointer); a rollback by the key holder is a new pointer with a higher sequence.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from moviescore.records import RecordError
from moviescore.serving.answers import Answers
from moviescore.serving.scoring import Scorer
from moviescore.serving.vocabulary import Vocabulary

if TYPE_CHECKING:
    from moviescore.records import ChampionPointer
    from moviescore.registry.store import ModelBundle

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30.0  # first retry of a failed version; doubles per failure
RETRY_MAX_SECONDS = 3600.0


class ChampionSource(Protocol):
    """The part of `moviescore.registry.store.Registry` the manager needs."""

    bucket: str

    def champion_if_changed(
        self, etag: str | None
    ) -> tuple[ChampionPointer | None, str | None]: ...

    def load(self, version: str) -> ModelBundle: ...


@dataclass(frozen=True)
class ServedModel:
    bundle: ModelBundle
    scorer: Scorer  # built and probed at load time, off the request path
    loaded_at: datetime
    source_uri: str
    pointer: ChampionPointer | None = None

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def model_name(self) -> str:
        return self.bundle.manifest.model_name

    @functools.cached_property
    def answers(self) -> Answers:
        """Interval, warnings and explanations of this model (built by `serve`, at load)."""
        return Answers(self.bundle, self.scorer)

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        """The keywords and companies this model knows (built by `serve`, at load)."""
        return Vocabulary(self.bundle.pipeline[0])

    @functools.cached_property
    def identity(self) -> dict[str, str]:
        """What every answer says about the model that gave it (built once, not per request)."""
        return {"model_version": self.version, "model_name": self.model_name}


@dataclass
class _Failure:
    count: int
    retry_at: float  # time.monotonic()


MAX_REASON_CHARS = 500  # an exception's repr can be long; a 503 detail stays short


def _now() -> datetime:
    return datetime.now(UTC)


class ModelManager:
    def __init__(self, registry: ChampionSource | None, poll_seconds: float = 10.0) -> None:
        self.registry = registry
        self.poll_seconds = poll_seconds
        self.served: ServedModel | None = None  # the one reference requests read
        self._etag: str | None = None
        self._failed: dict[str, _Failure] = {}
        self._failed_pointer: str | None = None  # the version the remembered etag points at
        self._lock = threading.Lock()  # one poll at a time (thread vs. a manual poll_once)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_poll_at: datetime | None = None
        self.last_poll_result: str | None = None
        self.last_success_at: datetime | None = None
        self.last_success_monotonic: float | None = None
        self.last_error: str | None = None
        self.reload_successes = 0
        self.reload_failures = 0
        self.poll_failures = 0

    @classmethod
    def static(cls, bundle: ModelBundle, source_uri: str = "memory://") -> ModelManager:
        """A manager that serves one in-memory bundle and never polls (tests, local tools)."""
        manager = cls(registry=None)
        manager.serve(bundle, source_uri)
        return manager

    @property
    def ready(self) -> bool:
        return self.served is not None

    def serve(
        self, bundle: ModelBundle, source_uri: str, pointer: ChampionPointer | None = None
    ) -> None:
        """Swap in `bundle` with one reference assignment; raises (keeping the old model) when
        it cannot score."""
        scorer = Scorer(bundle.pipeline, compiled=True)
        scorer.check()
        served = ServedModel(bundle, scorer, _now(), source_uri, pointer)
        served.answers  # noqa: B018 - built here, off the request path
        served.vocabulary  # noqa: B018
        self.served = served
        # The model and the libraries are long-lived: move them out of the GC's sight so a
        # full collection triggered by a big batch scans only request garbage, not the model
        # (it cut 1,000-movie batch latency; docs/BENCHMARKS.md). Cost: reference cycles
        # inside a replaced model are never collected — one model's worth per daily swap.
        gc.collect()
        gc.freeze()

    # --- the poll loop -------------------------------------------------------------------
    def start(self) -> None:
        if self.registry is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a bug here must not end polling for the life of the process
                log.exception("model poll crashed")
            self._stop.wait(self.poll_seconds)

    def poll_once(self) -> str:
        """One look at the pointer; returns what happened (also kept as `last_poll_result`)."""
        with self._lock:
            result = self._poll()
        self.last_poll_at = _now()
        self.last_poll_result = result
        return result

    def _poll(self) -> str:
        from moviescore.registry.store import PointerRefused  # boto3 & co.: only when polling

        assert self.registry is not None
        etag_to_send = self._etag
        failed = self._failed.get(self._failed_pointer or "")
        if failed is not None and time.monotonic() >= failed.retry_at:
            etag_to_send = None  # backoff over: look at the pointer again, even if unchanged
        try:
            pointer, etag = self.registry.champion_if_changed(etag_to_send)
        except PointerRefused as exc:  # keyed: not written by the key holder
            self._reached_registry()
            self._etag = exc.etag  # an unchanged refused pointer then costs a 304
            self._record_error(str(exc)[:500])
            return "refused"
        except RecordError as exc:  # S3 answered, but with a broken pointer: keep serving
            self._reached_registry()
            self._record_error(f"bad champion pointer: {exc}"[:500])
            return "bad_pointer"
        except Exception as exc:  # S3 down, bad credentials...: keep serving what we have
            self.poll_failures += 1
            self._record_error(f"poll failed: {exc!r}")
            return "error"
        self._reached_registry()
        if pointer is None:
            if etag is None:
                return "no_champion"
            return "backoff" if self._failed_pointer else "unchanged"
        version = pointer.version
        replay = self._replayed(pointer)
        if replay is not None:
            self._etag = etag
            self._record_error(replay)
            return "refused"
        if self.served is not None and self.served.version == version:
            self._etag = etag
            self._failed_pointer = None  # e.g. rolled back to what we serve
            return "unchanged"
        failure = self._failed.get(version)
        self._etag = etag  # from now on an unchanged pointer is a cheap 304
        if failure is not None and time.monotonic() < failure.retry_at:
            return "backoff"
        uri = f"s3://{self.registry.bucket}/models/{version}/"
        try:
            self.serve(self.registry.load(version), uri, pointer)
        except Exception as exc:  # IntegrityError, download or unpickling error, cannot score
            self._record_failure(version, failure, exc)
            self._failed_pointer = version
            return "failed"
        self._failed.pop(version, None)
        self._failed_pointer = None
        self.reload_successes += 1
        log.info("serving model %s (%s) from %s", version, pointer.model_name, uri)
        return "loaded"

    def _replayed(self, pointer: ChampionPointer) -> str | None:
        """Why a keyed server refuses `pointer` as older than what it serves, or None."""
        served = self.served.pointer if self.served is not None else None
        if not getattr(self.registry, "signing_key", None) or served is None:
            return None
        old, new = served.sequence, pointer.sequence
        if old is None or (new is not None and new >= old):
            return None
        return (
            f"champion pointer refused: sequence {new} is lower than the served {old} "
            f"({served.version}); a replay of an old pointer, not a rollback"
        )

    def _reached_registry(self) -> None:
        self.last_success_at = _now()
        self.last_success_monotonic = time.monotonic()

    def _record_failure(self, version: str, previous: _Failure | None, exc: Exception) -> None:
        count = previous.count + 1 if previous else 1
        delay = min(RETRY_BASE_SECONDS * 2 ** (count - 1), RETRY_MAX_SECONDS)
        self._failed[version] = _Failure(count, time.monotonic() + delay)
        self.reload_failures += 1
        self._record_error(f"loading {version} failed ({count}x, retry in {delay:.0f}s): {exc!r}")

    def _record_error(self, message: str) -> None:
        self.last_error = f"{_now().isoformat(timespec='seconds')} {message}"
        log.warning(message)

    def not_ready_reason(self) -> str:
        """Why nothing is served yet (the detail of /ready's and /predict's 503)."""
        if self.registry is None:
            return "no model loaded yet: no registry is configured"
        if self.last_poll_result is None:
            return "no model loaded yet: the first look at the registry is under way"
        if self.last_poll_result == "no_champion":
            return "no model loaded yet: the registry has no champion (run the pipeline first)"
        reason = "no model loaded yet"
        if self.last_error:
            reason += f"; last error: {self.last_error[:MAX_REASON_CHARS]}"
        return reason

    def seconds_since_success(self) -> float | None:
        if self.last_success_monotonic is None:
            return None
        return time.monotonic() - self.last_success_monotonic
