"""What the model learned from, and the plain-sentence warnings when a movie lies outside it.

`training_ranges` profiles the rows a candidate was fitted on (budget, runtime, release years);
the manifest carries it, so the server judges each request against the data of the model it
serves. `Warner` turns one request into warnings, one sentence per cause, cheap enough for
every /predict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

YEARS_PAST_NEWEST = 2  # a release this many years past the newest training year is extrapolation


def _positive_range(values: pd.Series) -> list[float] | None:
    numbers = pd.to_numeric(values, errors="coerce")
    numbers = numbers[numbers > 0]
    return None if numbers.empty else [float(numbers.min()), float(numbers.max())]


def training_ranges(rows: pd.DataFrame) -> dict[str, Any]:
    """{budget, runtime, release_year: [min, max] or None, n} of the rows a model was fitted on."""
    years = pd.to_datetime(rows["release_date"], errors="coerce").dt.year.dropna()
    return {
        "budget": _positive_range(rows["budget"]),
        "runtime": _positive_range(rows["runtime"]),
        "release_year": [int(years.min()), int(years.max())] if len(years) else None,
        "n": len(rows),
    }


def money(usd: float) -> str:
    """$20M, $1.5B, $250K: how a producer writes a budget."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if usd >= scale:
            return f"${usd / scale:.3g}{unit}"
    return f"${usd:.0f}"


class Warner:
    """The warnings of one request, for one served model."""

    def __init__(self, ranges: Mapping[str, Any] | None, known_keywords: Any) -> None:
        ranges = ranges or {}
        self.budget = ranges.get("budget")
        self.runtime = ranges.get("runtime")
        years = ranges.get("release_year")
        self.newest_year = years[1] if years else None
        self.known_keywords = known_keywords  # a container of keyword names

    def warnings(self, movie: Mapping[str, Any]) -> list[str]:
        """`movie` is a raw record (`MovieIn.to_record()`)."""
        out: list[str] = []
        budget, runtime = movie.get("budget"), movie.get("runtime")
        if not budget:
            out.append("No budget given: the model treats it as unknown.")
        elif outside := _outside(budget, self.budget, money):
            out.append(
                f"Budget {outside[0]} is outside the budgets the model learned from {outside[1]}"
            )
        if runtime is None:
            out.append("No runtime given: the model treats it as unknown.")
        elif outside := _outside(runtime, self.runtime, lambda v: f"{v:g} min"):
            out.append(
                f"Runtime {outside[0]} is outside the runtimes the model learned from {outside[1]}"
            )
        year = int(str(movie.get("release_date"))[:4])
        if self.newest_year is not None and year > self.newest_year + YEARS_PAST_NEWEST:
            out.append(
                f"Release year {year} is {year - self.newest_year} years after the newest film "
                f"the model learned from ({self.newest_year}): it cannot know how tastes moved "
                "since."
            )
        out += self._keywords(movie.get("keywords"))
        if not str(movie.get("overview") or "").strip():
            out.append("No overview given: the text and its sentiment count as empty.")
        return out

    def _keywords(self, keywords: Sequence[str] | None) -> list[str]:
        if keywords is None:
            return [
                "Keywords left out: the model assumed they are unknown (send an empty list "
                "if the film has none)."
            ]
        if not keywords:
            return [
                "Keywords given as an empty list: the model assumed the film has none, which "
                "it reads as a little-known film (leave the field out if they are unknown)."
            ]
        unknown = len(keywords) - sum(map(self.known_keywords.__contains__, keywords))
        if unknown == 0:
            return []
        n = len(keywords)
        return [
            f"{unknown} of {n} keywords {'is' if unknown == 1 else 'are'} unknown to the model "
            "and carry no signal."
        ]


def _outside(value: float, span: Any, text: Any) -> tuple[str, str] | None:
    """(the value, "(low to high): …") as a warning says them, when `value` is outside `span`."""
    if not span or span[0] <= value <= span[1]:
        return None
    low, high = span
    return text(value), f"({text(low)} to {text(high)}): it is rated like the nearest of those."
