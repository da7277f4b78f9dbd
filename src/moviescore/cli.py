"""`moviescore …` — the command line of both instances. Thin: every command calls the library.

An error ends a command with one line on stderr and exit status 1; `-v` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from moviescore.records import PromotionRecord


class _OneLineErrors(typer.Typer):
    """Typer that reports an exception as one line (its traceback only with -v)."""

    verbose = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if _OneLineErrors.verbose:
                raise
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            Console(stderr=True).print(
                f"error: {first}", style="red", markup=False, highlight=False, soft_wrap=True
            )
            raise SystemExit(1) from None


app = _OneLineErrors(help="Predict a film's TMDB rating before release.", no_args_is_help=True)
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
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Tracebacks, debug logs.")
    ] = False,
) -> None:
    _OneLineErrors.verbose = verbose
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
    judged = []
    if (recipe := decision.champion_recipe) is not None:  # judged on the same rows
        judged = [recipe.model_copy(update={"model_name": f"{recipe.model_name} (champion)"})]
    for cand in [*decision.candidates, *judged, mean]:
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
    """Batch prediction for every valid movie of a file; the rejected rows, with their reasons,
    go to OUTPUT's stem + `.rejected.csv`, and any rejection makes the exit status 1."""
    from moviescore.serving.batch import predict_file

    result = predict_file(input, output, version)
    console.print(f"wrote {result.predicted} predictions to {output}")
    if result.rejected:
        Console(stderr=True).print(
            f"{result.rejected} rows rejected, reasons in {result.rejected_path}",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


@app.command()
def backtest(
    snapshot: SnapshotOpt = None,
    output: Annotated[Path | None, typer.Option(help="Also write the full report as JSON.")] = None,
    folds: Annotated[int, typer.Option(min=1, help="Origins, newest first.")] = 9,
) -> None:
    """Rolling forward-in-time evaluation: every candidate beside the seed recipe and the mean
    (default data: every collected raw partition)."""
    from moviescore.training.backtest import labelled_movies, run_backtest, summary

    report = summary(run_backtest(labelled_movies(snapshot), n_origins=folds))
    table = Table(title="average test RMSE over the folds")
    for header in ("model", "all folds", "development", "holdout"):
        table.add_column(header, justify="right" if header != "model" else "left")
    for model, rmse in sorted(report["average"].items(), key=lambda kv: kv[1]):
        dev, hold = report["average_dev"].get(model), report["average_holdout"].get(model)
        cells = [f"{v:.3f}" if v is not None else "-" for v in (rmse, dev, hold)]
        table.add_row(model, *cells)
    console.print(table)
    console.print(f"shipped / seed recipe: {report['ratio']:.3f}")
    if output:
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")


@app.command()
def tune(
    model: Annotated[str, typer.Option(help="xgboost, lightgbm or random_forest.")],
    output: Annotated[Path, typer.Option(help="Where the study is written (JSON).")],
    snapshot: SnapshotOpt = None,
    trials: Annotated[int, typer.Option(min=1)] = 40,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds the search may take.")] = 600,
    folds: Annotated[int, typer.Option(min=1, help="Origins, newest first.")] = 9,
) -> None:
    """Search one candidate's hyperparameters on the backtest folds' validation years."""
    from moviescore.training.backtest import labelled_movies
    from moviescore.training.tuning import tune_to_file

    labelled = labelled_movies(snapshot)
    record = tune_to_file(model, labelled, output, trials=trials, timeout=timeout, n_origins=folds)
    _print_json(
        {k: record[k] for k in ("model", "default_val_rmse", "best_val_rmse", "best_params")}
    )


@models_app.command("list")
def models_list() -> None:
    """Every published version, newest first; * marks the champion."""
    from moviescore.records import Metrics
    from moviescore.registry.store import Registry

    registry = Registry.from_settings()
    _warn_bad_pointer(registry)
    rows = []
    for listed in registry.list_versions():
        manifest = listed.manifest
        metrics = manifest.metrics if manifest else Metrics()
        rows.append(
            [
                "*" if listed.champion else "",
                listed.version,
                manifest.model_name if manifest else "?",
                _learned_from(manifest),
                f"{metrics.get('test_rmse', float('nan')):.3f}",
                f"{metrics.get('rmse_gap', float('nan')):.3f}",
                listed.error or "",  # e.g. a bundle that fails its signature check
            ]
        )
    problems = any(row[-1] for row in rows)  # the column only when some version has one
    table = Table()
    table.add_column("")
    table.add_column("version", no_wrap=True)  # YYYYmmdd-HHMMSS-model-id: also when it was made
    table.add_column("model", overflow="fold")
    table.add_column("learned", no_wrap=True)
    for column in ("test RMSE", "gap", *(("problem",) if problems else ())):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(row if problems else row[:-1]))
    console.print(table)


def _learned_from(manifest: Any) -> str:
    """Which ratings a version learned, up to which logical date: `tmdb ≤2026-11-22`, or
    `DEMO imdb …` for the offline sample (`models show` has the whole record)."""
    data = manifest.data if manifest else None
    if data is None:
        return "?"
    scale = "DEMO imdb" if manifest.demo else (data.label_scale or "?").split("_")[0]
    return f"{scale} ≤{data.ds}"


@models_app.command("runs")
def models_runs(
    limit: Annotated[int, typer.Option(help="How many of the newest runs.")] = 10,
) -> None:
    """Every attempt of the newest pipeline runs (re-runs and lost races included)."""
    from moviescore.registry.store import Registry

    registry = Registry.from_settings()
    table = Table()
    for column in ("run", "attempted at", "action", "champion", "reason"):
        table.add_column(column, overflow="fold")
    for run in registry.decisions(limit):
        for attempt in registry.attempts(run.run_id or ""):
            table.add_row(
                run.run_id,
                attempt.attempted_at or "",
                attempt.action or "-",
                attempt.champion_version or "",
                attempt.reason or "",
            )
    console.print(table)


def _warn_bad_pointer(registry: Any) -> Any:
    """The champion pointer, or None with a warning line when it does not parse."""
    from moviescore.records import RecordError

    try:
        return registry.champion()
    except RecordError as exc:
        Console(stderr=True).print(
            f"warning: skipped {exc}", style="yellow", markup=False, highlight=False
        )
        return None


@models_app.command("show")
def models_show(
    version: Annotated[str | None, typer.Argument(help="Default: the champion.")] = None,
) -> None:
    """The manifest of a version (default: the champion) and the pointer if it is the champion."""
    from moviescore.registry.store import Registry

    registry = Registry.from_settings()
    pointer = _warn_bad_pointer(registry) if version else registry.champion()
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
    """Run the Streamlit rating app; it talks to the API at API_URL.

    The command becomes Streamlit (exec): its PID is Streamlit's, so stopping it stops the UI."""
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
    sys.stdout.flush()
    os.execv(sys.executable, cmd)  # noqa: S606 - our own interpreter, a fixed argument list


if __name__ == "__main__":
    app()
