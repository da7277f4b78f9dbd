"""The names a served model knows for its list fields, as suggestions for whoever describes a
film (GET /model/vocabulary, the studio's keyword and company pickers). One `Vocabulary` per
served model, built when it is loaded, then only read.

Order: most training films first, from the counts the feature step records when it is fitted
(`MovieFeatures.item_counts_`). A model pickled before those counts existed holds only each
item's encoded mean, which says how an item moved ratings, not how common it is: its items come
in alphabetical order (case-insensitive) instead, and the answer says so (`"order": "name"`).
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass
from typing import Any, Literal, get_args

VocabularyField = Literal["keywords", "production_companies"]
FIELDS: tuple[str, ...] = get_args(VocabularyField)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# The longest name /predict accepts (app.schemas.Name): a longer item could not be sent back.
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class _Names:
    names: tuple[str, ...]  # in answer order
    films: tuple[int | None, ...]  # training films naming each, parallel to `names`
    keys: tuple[str, ...]  # every name casefolded, sorted: a prefix is one contiguous run
    ranks: tuple[int, ...]  # where keys[i]'s name stands in `names`

    @classmethod
    def build(cls, items: list[str], counts: dict[str, int] | None) -> _Names:
        items = [i for i in items if 0 < len(i) <= MAX_NAME_CHARS and i.strip()]
        if counts is not None:
            items.sort(key=lambda i: (-counts.get(i, 0), i.casefold(), i))
        else:
            items.sort(key=lambda i: (i.casefold(), i))
        films = tuple(counts.get(i) for i in items) if counts is not None else (None,) * len(items)
        by_key = sorted(range(len(items)), key=lambda r: items[r].casefold())
        keys = tuple(items[r].casefold() for r in by_key)
        return cls(tuple(items), films, keys, tuple(by_key))

    def matching(self, prefix: str, limit: int) -> tuple[int, list[int]]:
        """(how many names start with `prefix`, the first `limit` of them in answer order)."""
        if not prefix:
            return len(self.names), list(range(min(limit, len(self.names))))
        n = len(prefix)
        lo = bisect.bisect_left(self.keys, prefix)
        hi = bisect.bisect_right(self.keys, prefix, lo=lo, key=lambda k: k[:n])
        return hi - lo, heapq.nsmallest(limit, self.ranks[lo:hi])


class Vocabulary:
    """The keywords and production companies a fitted `MovieFeatures` knows."""

    def __init__(self, features: Any) -> None:
        encodings: dict[str, dict[str, float]] = getattr(features, "encodings_", None) or {}
        counts: dict[str, dict[str, int]] | None = getattr(features, "item_counts_", None)
        self.order = "films" if counts else "name"
        self._fields = {
            field: _Names.build(
                list(encodings.get(field, {})), counts.get(field, {}) if counts else None
            )
            for field in FIELDS
        }

    def suggest(self, field: str, prefix: str = "", limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """{field, prefix, order, total, items: [{name, films}]}: at most `limit` known names of
        `field` that start with `prefix` (any case), most training films first."""
        if field not in self._fields:
            raise ValueError(f"no vocabulary for {field!r}; choose one of {', '.join(FIELDS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
        known = self._fields[field]
        total, picked = known.matching(prefix.lstrip().casefold(), limit)
        return {
            "field": field,
            "prefix": prefix,
            "order": self.order,
            "total": total,
            "items": [{"name": known.names[r], "films": known.films[r]} for r in picked],
        }
