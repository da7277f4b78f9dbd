"""What the Predict page shows of an answer: the interval in words, the contributions as a
waterfall, the comparable films, and scenarios side by side. Every field may be absent (an API
older than explanations), so each function returns nothing rather than failing."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from moviescore.studio.movie_form import shown, shown_inputs

WATERFALL_COLUMNS = ["step", "label", "start", "end", "value", "kind", "detail"]


def interval_sentence(answer: dict[str, Any]) -> str | None:
    """'80 % interval: 5.41 – 6.83', or None when the API gives no interval."""
    interval = answer.get("interval")
    if not isinstance(interval, dict) or interval.get("low") is None:
        return None
    level = float(interval.get("level") or 0.8)
    return (
        f"{level:.0%} interval: {interval['low']:.2f} – {interval['high']:.2f} "
        f"(for {level:.0%} of films like this one the real rating lands in this range)"
    )


def warnings_of(answer: dict[str, Any]) -> list[str]:
    found = answer.get("warnings")
    return [str(w) for w in found] if isinstance(found, list) else []


def waterfall_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """Bars from the base rating through each group's contribution (largest first) to the
    model's raw output; empty when the answer has no explanation."""
    explanation = answer.get("explanation")
    if not isinstance(explanation, dict) or explanation.get("base_rating") is None:
        return pd.DataFrame(columns=WATERFALL_COLUMNS)
    base = float(explanation["base_rating"])
    contributions = [c for c in explanation.get("contributions") or [] if isinstance(c, dict)]
    contributions.sort(key=lambda c: -abs(float(c.get("value") or 0)))
    rows = [
        {"label": "average film", "start": 0.0, "end": base, "value": base, "kind": "total",
         "detail": "the model's starting point before it reads this film"},
    ]  # fmt: skip
    level = base
    for c in contributions:
        value = float(c.get("value") or 0)
        rows.append(
            {
                "label": str(c.get("group", "?")),
                "start": level,
                "end": level + value,
                "value": value,
                "kind": "raises" if value >= 0 else "lowers",
                "detail": str(c.get("detail") or ""),
            }
        )
        level += value
    rows.append(
        {"label": "this film", "start": 0.0, "end": level, "value": level, "kind": "total",
         "detail": "the model's raw output (the rating shown is kept within 0-10)"},
    )  # fmt: skip
    frame = pd.DataFrame(rows)
    frame.insert(0, "step", range(len(frame)))
    return frame[WATERFALL_COLUMNS]


def comparables_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """The similar films the champion learned from, as a table (empty when not given)."""
    films = [f for f in answer.get("comparables") or [] if isinstance(f, dict)]
    columns = ["title", "release_year", "budget", "rating"]
    rows = [
        {k: f.get(k) for k in columns} | {"budget": shown("budget", f.get("budget"))} for f in films
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.rename(columns={"release_year": "year", "rating": "real rating"})


def scenarios_frame(scenarios: list[dict[str, Any]]) -> pd.DataFrame:
    """Kept scenarios side by side as text: one column each, the rows that differ first."""
    if not scenarios:
        return pd.DataFrame()
    columns: dict[str, dict[str, str]] = {}
    for n, scenario in enumerate(scenarios, 1):
        answer = scenario["answer"]
        interval = answer.get("interval") or {}
        column = {
            "rating": f"{answer.get('predicted_rating', math.nan):.2f}",
            "interval": f"{interval['low']:.2f} – {interval['high']:.2f}"
            if interval.get("low") is not None
            else "—",
            "warnings": str(len(warnings_of(answer))),
        }
        column |= shown_inputs(scenario["payload"])
        columns[f"{n}. {scenario.get('name') or scenario['payload'].get('title')}"] = column
    frame = pd.DataFrame(columns).fillna("—")
    differs = frame.nunique(axis=1) > 1
    return pd.concat([frame[differs], frame[~differs]])
