"""Draw docs/dag.png, the task graph of the DAG (run: .venv/bin/python scripts/dag_png.py)."""

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

NODES = {  # name: (x, y, label, colour)
    "collect": (0.0, 1.0, "collect\nTMDB | snapshot | sample\nvalidate → raw/date=ds", "#cfe2f3"),
    "preprocess": (2.2, 1.0, "preprocess\nlabel filter, time split\ndatasets/date=ds", "#cfe2f3"),
    "xgboost": (4.4, 2.0, "train [0]\nxgboost", "#d9ead3"),
    "lightgbm": (4.4, 1.0, "train [1]\nlightgbm", "#d9ead3"),
    "random_forest": (4.4, 0.0, "train [2]\nrandom_forest", "#d9ead3"),
    "promote": (6.6, 1.0, "promote\nchampion vs challenger\nby RMSE gap → S3", "#fce5cd"),
}
EDGES = [
    ("collect", "preprocess"),
    ("preprocess", "xgboost"),
    ("preprocess", "lightgbm"),
    ("preprocess", "random_forest"),
    ("xgboost", "promote"),
    ("lightgbm", "promote"),
    ("random_forest", "promote"),
]
W, H = 1.8, 0.75

fig = Figure(figsize=(10, 4.2), dpi=110)
ax = fig.subplots()
for x, y, label, colour in NODES.values():
    ax.add_patch(
        FancyBboxPatch(
            (x - W / 2, y - H / 2), W, H, boxstyle="round,pad=0.05", fc=colour, ec="#444"
        )
    )
    ax.text(x, y, label, ha="center", va="center", fontsize=8.5)
for a, b in EDGES:
    (xa, ya), (xb, yb) = NODES[a][:2], NODES[b][:2]
    ax.annotate(
        "",
        xy=(xb - W / 2 - 0.05, yb),
        xytext=(xa + W / 2 + 0.05, ya),
        arrowprops={"arrowstyle": "->", "color": "#444"},
    )
ax.text(
    4.4, 2.65, "mapped: .expand(model_name=CANDIDATES), run id = run-<ds>", ha="center", fontsize=8
)
ax.set_title(
    "tmdb_score_pipeline — daily 00:00 UTC (09:00 KST), retries=2 with backoff", fontsize=11
)
ax.set_xlim(-1.1, 7.7)
ax.set_ylim(-0.6, 2.9)
ax.axis("off")
fig.tight_layout()
fig.savefig(Path(__file__).resolve().parents[1] / "docs" / "dag.png")
