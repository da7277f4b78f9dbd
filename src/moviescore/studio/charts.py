"""The studio's Altair charts (Streamlit draws Vega-Lite natively: no images)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from moviescore.studio.registry_view import BASELINE, CHAMPION_RESCORE

KIND_COLORS = alt.Scale(
    domain=["total", "raises", "lowers"], range=["#4c78a8", "#54a24b", "#e45756"]
)


def waterfall(frame: pd.DataFrame) -> alt.LayerChart:
    """Horizontal waterfall: the base rating, each group's push up or down, the raw output. The
    axis spans the levels the contributions move between (the totals' bars are clipped), so a
    push of 0.05 stays visible next to a base of 6."""
    order = list(frame["label"])
    steps = frame[frame["kind"] != "total"]
    levels = [*steps["start"], *steps["end"], *frame.loc[frame["kind"] == "total", "end"]]
    pad = max((max(levels) - min(levels)) * 0.15, 0.1)
    domain = [round(min(levels) - pad, 2), round(max(levels) + pad, 2)]
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=240)),
        tooltip=[
            alt.Tooltip("label:N", title="group"),
            alt.Tooltip("value:Q", format="+.3f", title="effect on the rating"),
            alt.Tooltip("detail:N"),
        ],
    )
    bars = base.mark_bar(clip=True).encode(
        x=alt.X("start:Q", title="rating", scale=alt.Scale(domain=domain)),
        x2="end:Q",
        color=alt.Color("kind:N", scale=KIND_COLORS, legend=alt.Legend(title=None)),
    )
    labels = (
        base.mark_text(align="left", dx=4)
        .encode(x="right:Q", text="shown:N")
        .transform_calculate(
            right="max(datum.start, datum.end)",
            shown="datum.kind == 'total' ? format(datum.value, '.2f') "
            ": format(datum.value, '+.2f')",
        )
    )
    return alt.LayerChart(layer=[bars, labels], height=alt.Step(26), title="What moved the rating")


def what_if(frame: pd.DataFrame, dimension: str) -> alt.LayerChart:
    """The rating as one input varies, with its interval as a band when the API gives one."""
    kind = "T" if dimension == "release date" else "Q"
    title = {"budget": "budget (million USD, log scale)", "runtime": "runtime (min)"}
    x = alt.X(
        f"{dimension}:{kind}",
        title=title.get(dimension, dimension),
        scale=alt.Scale(type="log") if dimension == "budget" else alt.Undefined,
    )
    base = alt.Chart(frame).encode(x=x)
    line = base.mark_line(point=True).encode(
        y=alt.Y("rating:Q", title="predicted rating", scale=alt.Scale(zero=False)),
        tooltip=[f"{dimension}:{kind}", alt.Tooltip("rating:Q", format=".2f")],
    )
    layers: list[alt.Chart] = [line]
    if frame["low"].notna().any():
        band = base.mark_area(opacity=0.2).encode(y="low:Q", y2="high:Q")
        layers.insert(0, band)
    return alt.LayerChart(layer=layers, height=300, title=f"Rating as the {dimension} varies")


def rmse_by_run(frame: pd.DataFrame) -> alt.FacetChart:
    """One panel per run: its candidates, the champion re-scored and the mean baseline on that
    run's test set. Panels are separate test sets, so bars compare only within a panel."""
    color = alt.condition(
        alt.FieldOneOfPredicate(field="scored", oneOf=[CHAMPION_RESCORE, BASELINE]),
        alt.value("#9d9d9d"),
        alt.value("#4c78a8"),
    )
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X(
                "scored:N",
                title=None,
                sort=None,
                axis=alt.Axis(labelAngle=-40, labelOverlap=False, labelLimit=160),
            ),
            y=alt.Y("test_rmse:Q", title="test RMSE (lower is better)"),
            color=color,
            tooltip=["run:N", "scored:N", alt.Tooltip("test_rmse:Q", format=".4f")],
        )
        .properties(width=alt.Step(40), height=220)
    )
    return alt.FacetChart(
        data=frame,
        spec=bars,
        facet=alt.Facet(
            "run:N", title="pipeline run (each on its own test set)", sort="descending"
        ),
        columns=4,
    ).resolve_scale(x="independent")
