"""Pipeline runs' promotion decisions: every attempt kept, the latest one per run."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from moviescore.records import PromotionRecord, RecordError, parse
from moviescore.registry.base import RUNS, RegistryBase, to_json, utc_now


class Runs(RegistryBase):
    def _run_prefix(self, run_id: str) -> str:
        if not run_id or "/" in run_id or run_id in {".", ".."} or not run_id.isprintable():
            raise ValueError(f"bad run id {run_id!r}")
        return f"{RUNS}{run_id}/"

    def write_decision(self, run_id: str, decision: PromotionRecord | Mapping[str, Any]) -> str:
        """Keep the attempt (a new object, never overwritten) and make it the run's latest
        decision; returns the attempt's key."""
        prefix = self._run_prefix(run_id)
        record = parse(PromotionRecord, decision, f"the decision of {run_id}")
        body = to_json(record.dump())
        key = f"{prefix}attempts/{utc_now():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}.json"
        self.store.put(key, body, if_none_match="*")
        self.store.put(f"{prefix}decision.json", body)
        return key

    def decision(self, run_id: str) -> PromotionRecord | None:
        return self._get(PromotionRecord, f"{self._run_prefix(run_id)}decision.json")

    def attempts(self, run_id: str) -> list[PromotionRecord]:
        """Every attempt of a run, oldest first; one that does not parse is skipped and logged."""
        keys, _ = self.store.list(f"{self._run_prefix(run_id)}attempts/")
        found = (self._get_or_skip(PromotionRecord, key, None) for key in sorted(keys))
        return [record for record in found if record is not None]

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
