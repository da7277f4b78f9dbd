"""Experiment tracking on Weights & Biases — the only module that imports wandb.

One W&B run per candidate (job_type "train"), one per promotion decision ("promote"), all grouped
by the pipeline run id and tagged with model, data source and logical date. A train run plots its
learning curve per boosting round, its test predictions (table, predicted-vs-actual scatter, mean
residual by release year) and its feature importance; the artifacts link the dataset → the
candidates `tmdb-score-<model>` → the champion `tmdb-score-champion`. Offline unless an API key is
set; every W&B file lives under `DATA_DIR/wandb` (`wandb sync` uploads runs and models later).
Offline runs are opaque binaries, so every run also gets a plain JSON record under
`DATA_DIR/wandb/metrics/<group>/`. Tracking is best effort: any W&B failure is a warning, never an
exception, so training goes on when W&B is down or misconfigured.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from moviescore.storage import write_json
from moviescore.training import dashboard

if TYPE_CHECKING:
    import pandas as pd

    from moviescore.config import Settings
    from moviescore.records import DatasetSummary

log = logging.getLogger(__name__)

PREFIX = "tmdb-score"
DATASET_ARTIFACT = f"{PREFIX}-dataset"
# One collection for every promoted model, so the "champion" alias is unique across model types.
CHAMPION_ARTIFACT = f"{PREFIX}-champion"
MODEL_FILE = "model.joblib"  # one name in every model artifact: same bytes, same W&B digest
# wandb reads these at each init/staging, its service at start-up; unset, they point into $HOME
DIRS = {
    "WANDB_DIR": "",
    "WANDB_DATA_DIR": "data",  # artifact staging: offline, files wait there for `wandb sync`
    "WANDB_ARTIFACT_DIR": "artifacts",
    "WANDB_CACHE_DIR": "cache",
    "WANDB_CONFIG_DIR": "config",
}


def wandb_dir(settings: Settings) -> Path:
    return settings.data_dir / "wandb"


def metrics_path(settings: Settings, group: str, name: str) -> Path:
    return wandb_dir(settings) / "metrics" / group / f"{name}.json"


def model_artifact(model_name: str) -> str:
    return f"{PREFIX}-{model_name}"


class TrackedRun(NamedTuple):
    id: str
    url: str | None  # only online runs have a page to link to


def log_candidate(
    *,
    model_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    feature_importances: dict[str, float],
    learning_curve: Mapping[str, Sequence[float]],
    test_movies: pd.DataFrame,
    test_true: Sequence[float],
    test_pred: Sequence[float],
    model_path: Path | None,
    dataset: DatasetSummary | None,
    group: str,
    settings: Settings,
    tags: Sequence[str] = (),
    extra_config: dict[str, Any] | None = None,
) -> TrackedRun | None:
    """Log one trained candidate; its W&B run, or None when disabled or W&B failed.
    `test_movies` are the test rows (id, title, release_date) in the order of `test_true`."""

    def fill(run: Any, wandb: Any) -> None:
        if dataset is not None:
            _use(run, _dataset_artifact(wandb, dataset), aliases=_data_aliases(dataset))
        run.summary.update(metrics)
        dashboard.log_learning_curve(run, learning_curve)
        run.log(
            dashboard.evaluation_panels(
                wandb, model_name, test_movies, test_true, test_pred, feature_importances
            )
        )
        if model_path is not None:
            meta = {"metrics": metrics, "params": params}
            art = wandb.Artifact(model_artifact(model_name), type="model", metadata=meta)
            art.add_file(str(model_path), name=MODEL_FILE)
            run.log_artifact(art, aliases=["latest", *_data_aliases(dataset)])

    config = {**params, **(extra_config or {}), "model_name": model_name}
    record = {"model_name": model_name, "group": group, "params": params, "metrics": metrics}
    return _log_run(
        settings, group=group, job_type="train", name=model_name, fill=fill,
        config=config, tags=[model_name, *tags], record=record,
    )  # fmt: skip


def log_promotion(
    *,
    decision: dict[str, Any],
    group: str,
    settings: Settings,
    champion_model_name: str | None,
    champion_artifact_path: Path | None,
    candidate_models: Mapping[str, Path] | None = None,
    tags: Sequence[str] = (),
) -> str | None:
    """Log a promotion decision: the run uses the candidates' model artifacts and, when it
    promotes, outputs the champion artifact (alias "champion")."""

    def fill(run: Any, wandb: Any) -> None:
        for name, path in (candidate_models or {}).items():
            art = wandb.Artifact(model_artifact(name), type="model")
            art.add_file(str(path), name=MODEL_FILE)
            _use(run, art)
        run.summary.update(
            {k: v for k, v in decision.items() if isinstance(v, str | int | float | bool)}
        )
        rows = [c for c in decision.get("candidates") or [] if isinstance(c, dict)]
        if rows:
            run.log({"candidates": dashboard.table(wandb, rows)})
        if decision.get("promoted") and champion_artifact_path is not None:
            art = wandb.Artifact(
                CHAMPION_ARTIFACT,
                type="model",
                metadata={"model_name": champion_model_name, **dashboard.flat(decision)},
            )
            art.add_file(str(champion_artifact_path), name=MODEL_FILE)
            ds = decision.get("ds")
            run.log_artifact(art, aliases=["champion", "latest", *([f"ds-{ds}"] if ds else [])])

    record = {"group": group, "decision": decision, "champion_model_name": champion_model_name}
    tracked = _log_run(
        settings, group=group, job_type="promote", name="promotion", fill=fill,
        config={"champion_model_name": champion_model_name}, tags=["promote", *tags], record=record,
    )  # fmt: skip
    return tracked.id if tracked else None


def log_table(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    group: str,
    settings: Settings,
    *,
    job_type: str = "evaluate",
    config: dict[str, Any] | None = None,
    tags: Sequence[str] = (),
) -> TrackedRun | None:
    """One run that logs `rows` (dicts, e.g. a backtest's folds) as the W&B Table `name`."""

    def fill(run: Any, wandb: Any) -> None:
        run.log({name: dashboard.table(wandb, rows)})

    record = {"group": group, "name": name, "rows": [dict(r) for r in rows]}
    return _log_run(
        settings, group=group, job_type=job_type, name=name, fill=fill,
        config=config or {}, tags=[job_type, *tags], record=record,
    )  # fmt: skip


def _log_run(
    settings: Settings,
    *,
    group: str,
    job_type: str,
    name: str,
    fill: Callable[[Any, Any], None],
    config: dict[str, Any],
    tags: Sequence[str],
    record: dict[str, Any],
) -> TrackedRun | None:
    """One W&B run filled by `fill(run, wandb)`, and our own JSON record of it (offline runs
    are opaque binaries). Disabled: nothing at all. A W&B failure is a warning, never an error.
    A re-run of a group is a new attempt: its run name ends in `-attempt-<n>`."""
    mode = settings.effective_wandb_mode
    if mode == "disabled":
        return None
    path = metrics_path(settings, group, name)
    attempt = _previous_attempt(path) + 1
    run_name = f"{name}-{group}-attempt-{attempt}"
    config = {**config, "attempt": attempt, "started_at": datetime.now(UTC).isoformat()}
    tracked: TrackedRun | None = None
    try:
        import wandb

        with _run(settings, group, job_type, run_name, config, tags) as run:
            tracked = TrackedRun(run.id, run.url if mode == "online" else None)
            fill(run, wandb)
    except Exception as exc:  # W&B must never stop training
        why = f"{type(exc).__name__}: {exc}"
        log.warning("W&B run %s failed (%s); training goes on", run_name, why)
        tracked = None
    _write_json(
        path,
        {
            **record,
            "attempt": attempt,
            "wandb_run_id": tracked.id if tracked else None,
            "wandb_url": tracked.url if tracked else None,
            "wandb_mode": mode,
        },
    )
    return tracked


@contextmanager
def _run(
    settings: Settings, group: str, job_type: str, name: str, config: dict[str, Any],
    tags: Sequence[str],
) -> Iterator[Any]:  # fmt: skip
    import wandb

    root = wandb_dir(settings)
    for var, sub in DIRS.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.environ[var] = str((root / sub).resolve())
    api_key = settings.wandb_api_key.get_secret_value() if settings.wandb_api_key else None
    run = wandb.init(
        project=settings.wandb_project,
        entity=settings.wandb_entity,
        group=group,
        job_type=job_type,
        name=name,
        config=config,
        tags=[t[:64] for t in dict.fromkeys(tags)],  # W&B caps a tag at 64 characters
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


def _use(run: Any, artifact: Any, aliases: Sequence[str] = ()) -> None:
    """Mark `artifact` as an input of `run`. `run.use_artifact` refuses offline runs; this is
    the record it writes online for a new artifact (user-created, used once committed), which
    `wandb sync` replays: W&B dedups it by content onto the version the producer logged."""
    run._log_artifact(artifact, aliases=[*aliases], is_user_created=True, use_after_commit=True)


def _dataset_artifact(wandb: Any, dataset: DatasetSummary) -> Any:
    from moviescore.ingest.partitions import SPLITS

    summary = dataset.dump()
    summary.pop("dataset", None)  # a local path; says nothing about the data
    art = wandb.Artifact(DATASET_ARTIFACT, type="dataset", metadata=summary)
    for split in SPLITS:
        art.add_file(str(Path(dataset.dataset) / f"{split}.parquet"), name=f"{split}.parquet")
    return art


def _data_aliases(dataset: DatasetSummary | None) -> list[str]:
    return [f"ds-{dataset.ds}", f"data-{dataset.fingerprint}"] if dataset else []


def _previous_attempt(path: Path) -> int:
    try:
        return int(json.loads(path.read_text()).get("attempt", 1))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, TypeError, AttributeError):  # unreadable: still a new attempt
        return 1


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    try:
        write_json(path, payload)
    except OSError as exc:  # tracking is best effort, like the W&B run itself
        log.warning("could not write %s (%s)", path, exc)
