"""What one TMDB collection produced, and everything it could not produce, said out loud."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class FailedPage:
    window: str  # "YYYY-MM-DD..YYYY-MM-DD"
    page: int
    error: str


@dataclass(frozen=True)
class TruncatedWindow:
    """A one-day window with more results than TMDB's page cap lets anyone read."""

    window: str
    total_results: int
    fetched_results: int

    @property
    def shortfall(self) -> int:
        return max(0, self.total_results - self.fetched_results)


@dataclass
class CollectResult:
    start: str  # ISO dates of the requested window, inclusive
    end: str
    ids: list[int] = field(default_factory=list)  # discovered, deduped, in discover order
    details: list[dict[str, Any]] = field(default_factory=list)  # raw `/movie/{id}` JSON
    failed_pages: list[FailedPage] = field(default_factory=list)
    failed_ids: dict[int, str] = field(default_factory=dict)  # id -> error
    missing_ids: list[int] = field(default_factory=list)  # 404 on details: the movie vanished
    truncated_windows: list[TruncatedWindow] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Nothing lost: every page read, every detail fetched (vanished movies are not losses)."""
        return not (self.failed_pages or self.failed_ids or self.truncated_windows)

    def summary(self) -> str:
        shortfall = sum(w.shortfall for w in self.truncated_windows)
        text = (
            f"TMDB {self.start}..{self.end}: {len(self.ids)} ids discovered, "
            f"{len(self.details)} details fetched, {len(self.missing_ids)} vanished (404), "
            f"{len(self.failed_ids)} failed ids, {len(self.failed_pages)} failed discover pages, "
            f"{len(self.truncated_windows)} truncated windows (~{shortfall} results past the cap)"
        )
        return text if self.complete else f"INCOMPLETE {text}"

    def report(self) -> dict[str, Any]:
        """JSON-serialisable account of the run, without the bulky details."""
        out = asdict(replace(self, details=[]))  # never deep-copies the details
        del out["details"]
        out["details_fetched"] = len(self.details)
        out["failed_ids"] = {str(k): v for k, v in self.failed_ids.items()}
        out["complete"] = self.complete
        return out
