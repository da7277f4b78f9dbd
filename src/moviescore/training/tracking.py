"""Experiment tracking on Weights & Biases — the only module that imports wandb.

One W&B run per candidate (job_type "train") and one per promotion decision (job_type "promote"),
all grouped by the pipeline run id. Offline unless an API key is set; runs land under
`DATA_DIR/wandb`. Offline runs are opaque binaries, so every run also gets a plain `metrics.json`
under `DATA_DIR/wandb/metrics/<group>/`. Tracking is best effort: any W&B failure is a warning,
never an exception, so training goes on when W&B is down or misconfigured.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from moviescore.storage import write_json

if TYPE_CHECKING:
    from moviescore.config import Settings

log = logging.getLogger(__name__)

TOP_FEATURES = 20
# One collection for every promoted model, so the "champion" alias is unique across model types.
CHAMPION_ARTIFACT = "tmdb-score-champion"


def wandb_dir(settings: Settings) -> Path:
    return settings.data_dir / "wandb"


def metrics_path(settings: Settings, group: str, name: str) -> Path:
    return wandb_dir(settings) / "metrics" / group / f"{name}.json"


class TrackedRun(NamedTuple):
    id: str
    url: str | None  # only online runs have a page to link to


def log_candidate(
    *,
    model_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    feature_importances: dict[str, float],
    test_true: Sequence[float],
    test_pred: Sequence[float],
    model_path: Path | None,
    group: str,
    settings: Settings,
    extra_config: dict[str, Any] | None = None,
) -> TrackedRun | None:
    """Log one trained candidate; its W&B run, or None when disabled or W&B failed."""

    def fill(run: Any, wandb: Any) -> None:
        run.config.update({**params, **(extra_config or {}), "model_name": model_name})
        run.summary.update(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            scatter = _scatter_png(test_true, test_pred, model_name, Path(tmp))
            bars = _importance_png(feature_importances, model_name, Path(tmp))
            run.log(
                {
                    "pred_vs_actual": wandb.Image(str(scatter)),
                    "feature_importance": wandb.Image(str(bars)),
                }
            )
        if model_path is not None:
            art = wandb.Artifact(model_name, type="model", metadata={"metrics": metrics})
            art.add_file(str(model_path))
            run.log_artifact(art)

    record = {"model_name": model_name, "group": group, "params": params, "metrics": metrics}
    return _log_run(
        settings,
        group=group,
        job_type="train",
        name=f"{model_name}-{group}",
        fill=fill,
        record_name=model_name,
        record=record,
    )


def log_promotion(
    *,
    decision: dict[str, Any],
    group: str,
    settings: Settings,
    champion_model_name: str | None,
    champion_artifact_path: Path | None,
) -> str | None:
    """Log a promotion decision; when promoted, the model artifact gets the "champion" alias."""

    def fill(run: Any, wandb: Any) -> None:
        run.config.update({"champion_model_name": champion_model_name})
        run.summary.update(
            {k: v for k, v in decision.items() if isinstance(v, str | int | float | bool)}
        )
        rows = [_flat(c) for c in decision.get("candidates") or [] if isinstance(c, dict)]
        if rows:
            columns: list[Any] = sorted({k for r in rows for k in r})
            data: list[Any] = [[r.get(c) for c in columns] for r in rows]
            run.log({"candidates": wandb.Table(columns=columns, data=data)})
        if decision.get("promoted") and champion_artifact_path is not None:
            art = wandb.Artifact(
                CHAMPION_ARTIFACT,
                type="model",
                metadata={"model_name": champion_model_name, **_flat(decision)},
            )
            art.add_file(str(champion_artifact_path))
            run.log_artifact(art, aliases=["champion", "latest"])

    record = {"group": group, "decision": decision, "champion_model_name": champion_model_name}
    tracked = _log_run(
        settings,
        group=group,
        job_type="promote",
        name=f"promote-{group}",
        fill=fill,
        record_name="promotion",
        record=record,
    )
    return tracked.id if tracked else None


def _log_run(
    settings: Settings,
    *,
    group: str,
    job_type: str,
    name: str,
    fill: Callable[[Any, Any], None],
    record_name: str,
    record: dict[str, Any],
) -> TrackedRun | None:
    """One W&B run filled by `fill(run, wandb)`, and our own JSON record of it (offline runs
    are opaque binaries). Disabled: nothing at all. A W&B failure is a warning, never an error."""
    mode = settings.effective_wandb_mode
    if mode == "disabled":
        return None
    tracked: TrackedRun | None = None
    try:
        import wandb

        with _run(settings, group=group, job_type=job_type, name=name) as run:
            tracked = TrackedRun(run.id, run.url if mode == "online" else None)
            fill(run, wandb)
    except Exception as exc:  # W&B must never stop training
        log.warning("W&B run %s failed (%s: %s); training goes on", name, type(exc).__name__, exc)
        tracked = None
    _write_json(
        metrics_path(settings, group, record_name),
        {
            **record,
            "wandb_run_id": tracked.id if tracked else None,
            "wandb_url": tracked.url if tracked else None,
            "wandb_mode": mode,
        },
    )
    return tracked


@contextmanager
def _run(settings: Settings, *, group: str, job_type: str, name: str) -> Iterator[Any]:
    import wandb

    root = wandb_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    api_key = settings.wandb_api_key.get_secret_value() if settings.wandb_api_key else None
    run = wandb.init(
        project=settings.wandb_project,
        entity=settings.wandb_entity,
        group=group,
        job_type=job_type,
        name=name,
        dir=str(root),
        mode=settings.effective_wandb_mode,  # type: ignore[arg-type]
        reinit="create_new",  # several runs per process (the CLI pipeline) never clash
        settings=wandb.Settings(
            api_key=api_key,
            init_timeout=settings.wandb_init_timeout,
            silent=True,
            quiet=True,
            console="off",  # Airflow captures stdout itself; no console mirroring
            save_code=False,
            disable_git=True,
            x_disable_stats=True,  # no system-metrics sampler thread inside an Airflow task
            x_disable_machine_info=True,
        ),
    )
    try:
        yield run
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()


def _scatter_png(true: Sequence[float], pred: Sequence[float], title: str, out: Path) -> Path:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.subplots()
    ax.scatter(list(true), list(pred), s=8, alpha=0.5)
    lo = min([*true, *pred], default=0.0)
    hi = max([*true, *pred], default=10.0)
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="actual rating", ylabel="predicted rating", title=f"{title}: test set")
    path = out / "pred_vs_actual.png"
    fig.savefig(path)
    return path


def _importance_png(importances: dict[str, float], title: str, out: Path) -> Path:
    from matplotlib.figure import Figure

    top = sorted(importances.items(), key=lambda kv: abs(kv[1]), reverse=True)[:TOP_FEATURES]
    fig = Figure(figsize=(7, 0.3 * max(len(top), 3) + 1), dpi=100, layout="tight")
    ax = fig.subplots()
    ax.barh([k for k, _ in reversed(top)], [v for _, v in reversed(top)])
    ax.set(xlabel="importance", title=f"{title}: top {len(top)} features")
    path = out / "feature_importance.png"
    fig.savefig(path)
    return path


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted scalar keys, so a W&B table/metadata holds plain values."""
    flat: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, f"{name}."))
        elif value is None or isinstance(value, str | int | float | bool):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    try:
        write_json(path, payload)
    except OSError as exc:  # tracking is best effort, like the W&B run itself
        log.warning("could not write %s (%s)", path, exc)
