"""The champion pointer: compare-and-swap promotion, its history chain, rollback.

`set_champion` reads the manifest back, checks the model file again, appends history, and only
then writes `champion.json` with a conditional PUT: If-Match on the ETag read when the decision
was made (If-None-Match: * for the first champion), so of two promotions that read the same
pointer exactly one moves it and the other gets `ChampionChanged`, re-reads and re-decides. The
pointer carries a `sequence` (+1 per change) and `previous_version`; its history entry is keyed by
the sequence and written after the swap, so a crash in between leaves a gap the next change fills
(from the pointer itself), never a chain that lies. With a key the pointer is signed over all its
fields.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from moviescore.records import ChampionPointer, PromotionRecord, RecordError, parse
from moviescore.registry import signing
from moviescore.registry.base import (
    CHAMPION_KEY,
    HISTORY,
    ChampionChanged,
    IntegrityError,
    PointerRefused,
    RegistryError,
    to_json,
    utc_now,
)
from moviescore.registry.s3 import PreconditionFailed
from moviescore.registry.versions import Versions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChampionState:
    """`champion.json` as one read saw it: the pointer (None when absent or unreadable, then
    `error` says why) and the ETag a compare-and-swap must match (None: no pointer yet)."""

    pointer: ChampionPointer | None
    etag: str | None
    error: str | None = None


class Champion(Versions):
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
            promoted_at=utc_now().isoformat(),
            previous_version=current.version if current else None,
            action=action,
            decision=parse(PromotionRecord, decision, f"the decision promoting {version}"),
            **fields,
        )
        doc = json.loads(to_json(pointer.dump()))  # plain JSON: signed == stored == read back
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        body = to_json(doc)
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
        doc = json.loads(to_json(pointer.dump()))
        if self.signing_key:
            doc = signing.sign(doc, self.signing_key)
        # PreconditionFailed: written meanwhile by the next promotion's gap filling (the same)
        with contextlib.suppress(PreconditionFailed):
            self.store.put(key, to_json(doc), if_none_match="*")

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
