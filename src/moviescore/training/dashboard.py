"""What a W&B run shows: learning curves, prediction and importance charts, plain tables.

Builds panels from the `wandb` module that `tracking` hands in (tracking stays the only module
that imports wandb and owns the runs' life cycle, artifacts and failure handling).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TOP_FEATURES = 20
ROUND = "round"  # the x axis of every learning curve


def log_learning_curve(run: Any, curve: Mapping[str, Sequence[float]]) -> None:
    """One history step per boosting round (per tree for a forest), `curve/<metric>` against
    `round`, so the candidates' runs overlay on one chart per metric."""
    run.define_metric(ROUND)
    run.define_metric("curve/*", step_metric=ROUND)
    keys = [f"curve/{k}" for k in curve]
    for i, values in enumerate(zip(*curve.values(), strict=True), start=1):
        run.log({ROUND: i, **dict(zip(keys, values, strict=True))})


def evaluation_panels(
    wandb: Any,
    model: str,
    movies: pd.DataFrame,
    true: Sequence[float],
    pred: Sequence[float],
    importances: Mapping[str, float],
) -> dict[str, Any]:
    """The test predictions as a Table (id, title, release_year, true, predicted, residual), a
    predicted-vs-actual scatter, the mean residual (actual - predicted: > 0 means the model
    rates too low) per release year, and the top features' importance as a bar chart."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": movies["id"].to_numpy(),
            "title": movies["title"].astype(str).to_numpy(),
            "release_year": pd.to_datetime(movies["release_date"], errors="coerce").dt.year,
            "true": list(true),
            "predicted": list(pred),
        }
    )
    frame["residual"] = frame["true"] - frame["predicted"]
    by_year = (
        frame.dropna(subset=["release_year"])
        .groupby("release_year", as_index=False)
        .agg(mean_residual=("residual", "mean"), movies=("residual", "size"))
    )
    predictions = wandb.Table(dataframe=frame)
    top = sorted(importances.items(), key=lambda kv: abs(kv[1]), reverse=True)[:TOP_FEATURES]
    importance = wandb.Table(columns=["feature", "importance"], data=[list(kv) for kv in top])
    return {
        "predictions": predictions,
        "pred_vs_actual": wandb.plot.scatter(
            predictions, "true", "predicted", title=f"{model}: predicted vs actual (test set)"
        ),
        "residual_by_year": wandb.plot.line(
            wandb.Table(dataframe=by_year),
            "release_year",
            "mean_residual",
            title=f"{model}: mean residual by release year (test set)",
        ),
        "feature_importance": wandb.plot.bar(
            importance, "feature", "importance", title=f"{model}: top {len(top)} features"
        ),
    }


def table(wandb: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    """Dicts (nested ones flattened to dotted keys) as one W&B Table, a column per key."""
    flat_rows = [flat(r) for r in rows]
    columns: list[Any] = sorted({k for r in flat_rows for k in r})
    return wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in flat_rows])


def flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted scalar keys, so a W&B table/metadata holds plain values."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat(value, f"{name}."))
        elif value is None or isinstance(value, str | int | float | bool):
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)
    return out
