"""`moviescore …` — the command line of both instances. Thin: every command calls the library."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from moviescore.records import PromotionRecord

app = typer.Typer(help="Predict a film's TMDB rating before release.", no_args_is_help=True)
models_app = typer.Typer(help="Inspect and manage the model registry on S3.", no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console()


class Source(StrEnum):
    tmdb = "tmdb"
    snapshot = "snapshot"
    sample = "sample"


def _logical_date(value: str) -> str:
    from moviescore.ingest.partitions import iso_day

    try:
        return iso_day(value)
    except ValueError:  # a usage error (exit 2, names --date), not a traceback
        raise typer.BadParameter(f"{value!r} is not a date: expected YYYY-MM-DD") from None


DateOpt = Annotated[
    str,
    typer.Option("--date", help="Logical date YYYY-MM-DD (the DAG's ds).", callback=_logical_date),
]
SourceOpt = Annotated[
    Source | None,
    typer.Option(help="Where movies come from; default: tmdb with a key, else sample."),
]
SnapshotOpt = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, help="Snapshot file for --source snapshot."),
]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


@app.command()
def collect(ds: DateOpt, source: SourceOpt = None, snapshot: SnapshotOpt = None) -> None:
    """Collect movies into the raw partition of --date (re-running replaces it)."""
    from moviescore.steps import collect_step

    _print_json(
        collect_step(ds, source.value if source else None, str(snapshot) if snapshot else None)
    )


class Step(StrEnum):
    collect = "collect"
    preprocess = "preprocess"
    train = "train"
    promote = "promote"


@app.command()
def step(
    name: Annotated[Step, typer.Argument(help="The DAG task to run.")],
    ds: DateOpt,
    model: Annotated[
        str | None, typer.Option(help="train only: one candidate (default: every one).")
    ] = None,
    source: SourceOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Run one DAG task for --date, as its Airflow task does: it reads what the step before left
    in the data store (the bucket), so any machine can re-run it."""
    from moviescore import steps
    from moviescore.training.specs import CANDIDATES

    if model is not None and name is not Step.train:
        raise typer.BadParameter("--model is for `step train` only", param_hint="--model")
    if model is not None and model not in CANDIDATES:
        raise typer.BadParameter(
            f"{model!r} is not one of {', '.join(CANDIDATES)}", param_hint="--model"
        )
    if (source or snapshot) and name is not Step.collect:
        raise typer.BadParameter("--source/--snapshot are for `step collect` only")
    result: Any
    if name is Step.collect:
        result = steps.collect_step(
            ds, source.value if source else None, str(snapshot) if snapshot else None
        )
    elif name is Step.preprocess:
        result = steps.preprocess_step(ds)
    elif name is Step.train:
        result = [steps.train_step(ds, m) for m in ([model] if model else CANDIDATES)]
    else:
        result = steps.promote_step(ds, steps.stored_candidates(ds))
    _print_json(result)


CANDIDATE_COLUMNS = {  # header -> metric key; short headers keep the table in 80 columns
    "train RMSE": "train_rmse",
    "val RMSE": "val_rmse",
    "test RMSE": "test_rmse",
    "test MAE": "test_mae",
    "test R²": "test_r2",
    "gap": "rmse_gap",
}


def candidates_table(decision: PromotionRecord) -> Table:
    from moviescore.records import CandidateScore, Metrics

    table = Table(title=f"candidates of {decision.run_id}")
    table.add_column("model", no_wrap=True)  # never truncate the names a user must compare
    for header in CANDIDATE_COLUMNS:
        table.add_column(header, justify="right")
    mean = CandidateScore(model_name="mean", metrics=decision.baseline or Metrics())
    for cand in [*decision.candidates, mean]:
        table.add_row(
            cand.model_name,
            *(f"{cand.metrics.get(key, float('nan')):.3f}" for key in CANDIDATE_COLUMNS.values()),
        )
    return table


@app.command()
def pipeline(ds: DateOpt, source: SourceOpt = None, snapshot: SnapshotOpt = None) -> None:
    """collect → preprocess → train ×3 → promote in one process (the DAG's steps)."""
    from moviescore.records import PromotionRecord, parse
    from moviescore.steps import run_all

    result = run_all(ds, source.value if source else None, str(snapshot) if snapshot else None)
    decision = parse(PromotionRecord, result["decision"], "the promote step's decision")
    console.print(candidates_table(decision))
    console.print(decision.reason, style="green" if decision.promoted else "yellow")
    console.print(f"champion: {decision.champion_version}")


@app.command()
def predict(
    input: Annotated[
        Path,
        typer.Option("--input", exists=True, dir_okay=False, help="Movies in any snapshot format."),
    ],
    output: Annotated[Path, typer.Option("--output", help="CSV with columns id,predicted_rating.")],
    version: Annotated[str, typer.Option(help="'champion' or a registry version id.")] = "champion",
) -> None:
    """Batch prediction for every movie of a file."""
    from moviescore.serving.batch import predict_file

    rows = predict_file(input, output, version)
    console.print(f"wrote {rows} predictions to {output}")


@models_app.command("list")
def models_list() -> None:
    """Every published version, newest first; * marks the champion."""
    from moviescore.records import Metrics
    from moviescore.registry.store import Registry

    table = Table()
    table.add_column("")
    table.add_column("version", no_wrap=True)  # YYYYmmdd-HHMMSS-model-id: also when it was made
    for column in ("model", "test RMSE", "gap", "problem"):
        table.add_column(column)
    for listed in Registry.from_settings().list_versions():
        manifest = listed.manifest
        metrics = manifest.metrics if manifest else Metrics()
        table.add_row(
            "*" if listed.champion else "",
            listed.version,
            manifest.model_name if manifest else "?",
            f"{metrics.get('test_rmse', float('nan')):.3f}",
            f"{metrics.get('rmse_gap', float('nan')):.3f}",
            listed.error or "",  # e.g. a bundle that fails its signature check
        )
    console.print(table)


@models_app.command("show")
def models_show(
    version: Annotated[str | None, typer.Argument(help="Default: the champion.")] = None,
) -> None:
    """The manifest of a version (default: the champion) and the pointer if it is the champion."""
    from moviescore.registry.store import Registry

    registry = Registry.from_settings()
    pointer = registry.champion()
    if version is None:
        if pointer is None:
            raise typer.BadParameter("no champion yet; run `moviescore pipeline` first")
        version = pointer.version
    _print_json(
        {
            "manifest": registry.manifest(version).dump(),
            "champion": pointer.dump() if pointer and pointer.version == version else None,
        }
    )


@models_app.command("rollback")
def models_rollback(
    version: Annotated[str | None, typer.Argument(help="Default: the previous champion.")] = None,
) -> None:
    """Point the champion at an earlier, verified version."""
    from moviescore.registry.store import Registry

    _print_json(Registry.from_settings().rollback(version).dump())


@app.command()
def s3() -> None:
    """Run the embedded S3 server (SeaweedFS on 127.0.0.1) in the foreground until Ctrl-C."""
    from moviescore.local_s3 import serve_forever

    serve_forever()


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the prediction API (instance B)."""
    from app.main import run_server

    run_server(host=host, port=port)


@app.command()
def ui(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8501,
) -> None:
    """Run the Streamlit rating app; it talks to the API at API_URL."""
    script = Path(__file__).resolve().parents[2] / "streamlit_app.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    raise typer.Exit(subprocess.call(cmd))


if __name__ == "__main__":
    app()
