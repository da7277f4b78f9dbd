"""The four steps of instance A, called by the Airflow DAG and by `moviescore pipeline` alike.

Each step takes and returns small JSON-serialisable values (dates, paths, ids, metrics) so Airflow
can pass them through XCom. Everything a step writes is keyed by the logical date `ds`, so running
a date again replaces its outputs instead of adding to them (tasks as transactions).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from moviescore.config import Settings, get_settings
from moviescore.ingest.partitions import SPLITS
from moviescore.records import CandidateSummary, DatasetSummary, PromotionRecord, parse
from moviescore.storage import atomic_write, write_joblib, write_json

log = logging.getLogger(__name__)


def run_id_for(ds: str) -> str:
    """One pipeline run per logical date: a re-run of the date overwrites, never duplicates."""
    from moviescore.ingest.partitions import iso_day

    return f"run-{iso_day(ds)}"


def collect_step(ds: str, source: str | None = None, snapshot: str | None = None) -> dict[str, Any]:
    from moviescore.ingest.partitions import write_partition
    from moviescore.ingest.sources import default_source, load_source
    from moviescore.ingest.validate import TooManyRejected, validate_raw, write_rejected

    settings = get_settings()
    day = date.fromisoformat(ds)
    source = source or default_source(settings)
    raw = load_source(
        source, date=day, snapshot=Path(snapshot) if snapshot else None, settings=settings
    )
    try:
        report = validate_raw(raw, settings.max_rejected_share)
    except TooManyRejected as exc:  # keep the evidence of a bad batch before failing the task
        write_rejected(exc.report, day, settings)
        raise
    rejected_path = write_rejected(report, day, settings)
    movies = _keep_unfetched(report.valid, raw, day, settings)
    partition = write_partition(movies, day, settings)
    log.info("collected %d movies from %s (%d rejected)", len(movies), source, len(report.rejected))
    return {
        "ds": ds,
        "source": source,
        "partition": str(partition),
        "rows": len(movies),
        "rejected": len(report.rejected),
        "rejected_report": str(rejected_path) if rejected_path else None,
    }


def _keep_unfetched(valid: pd.DataFrame, raw: pd.DataFrame, day: date, settings: Settings) -> Any:
    """A re-run of a date whose TMDB details failed for some movies keeps those movies as the
    earlier run of the same date collected them, instead of dropping them from the partition."""
    from moviescore.ingest.partitions import partition_path, read_partition
    from moviescore.ingest.sources import COLLECT_REPORT

    # the report is JSON-shaped (ids as str keys): back to the int ids of the frame
    failed = {int(i) for i in raw.attrs.get(COLLECT_REPORT, {}).get("failed_ids", {})}
    if not failed or not partition_path(day, settings).exists():
        return valid
    earlier = read_partition(day, settings)
    kept = earlier[earlier["id"].isin(failed) & ~earlier["id"].isin(valid["id"])]
    if kept.empty:
        return valid
    log.warning("kept %d movies from the earlier %s partition: %s", len(kept), day, list(kept.id))
    return pd.concat([valid, kept], ignore_index=True)


def _dataset_dir(settings: Settings, ds: str) -> Path:
    return settings.data_dir / "datasets" / f"date={ds}"


def preprocess_step(ds: str) -> dict[str, Any]:
    """Labelled, time-split training data from every partition up to `ds` (never later ones);
    returns a `DatasetSummary` as JSON (XCom)."""
    from moviescore.ingest.partitions import (
        fingerprint,
        label_filter,
        read_all_partitions,
        time_split,
    )

    settings = get_settings()
    movies = read_all_partitions(settings, until=date.fromisoformat(ds))
    labelled = label_filter(movies, settings.min_vote_count)
    splits = time_split(labelled)
    out = _dataset_dir(settings, ds)
    for name in SPLITS:
        atomic_write(
            out / f"{name}.parquet", partial(getattr(splits, name).to_parquet, index=False)
        )
    summary = DatasetSummary(
        ds=ds,
        dataset=str(out),
        rows=len(movies),
        labelled=len(labelled),
        **{name: len(getattr(splits, name)) for name in SPLITS},
        fingerprint=fingerprint(labelled),
    ).dump()
    write_json(out / "summary.json", summary)
    return summary


def read_dataset_summary(dataset_dir: Path) -> DatasetSummary:
    path = dataset_dir / "summary.json"
    return parse(DatasetSummary, path.read_bytes(), str(path))


def load_splits(dataset_dir: str | Path) -> Any:
    from moviescore.ingest.partitions import Splits

    folder = Path(dataset_dir)
    return Splits(*(pd.read_parquet(folder / f"{name}.parquet") for name in SPLITS))


def train_step(ds: str, model_name: str) -> dict[str, Any]:
    """One candidate fitted on the dataset of `ds`, saved under the run of `ds`; returns a
    `CandidateSummary` as JSON (XCom)."""
    from moviescore.training.candidates import train_candidate
    from moviescore.training.tracking import log_candidate

    settings = get_settings()
    run_id = run_id_for(ds)
    dataset = _dataset_dir(settings, ds)
    splits = load_splits(dataset)
    result = train_candidate(model_name, splits)
    out = settings.runs_dir / run_id / model_name
    model_path = write_joblib(out / "model.joblib", result.pipeline)
    data = read_dataset_summary(dataset)
    tracked = log_candidate(
        model_name=model_name,
        params=result.params,
        metrics=result.metrics,
        feature_importances=result.feature_importances,
        learning_curve=result.learning_curve,
        test_movies=splits.test,
        test_true=result.test_true.tolist(),
        test_pred=result.test_pred.tolist(),
        model_path=model_path,
        dataset=data,
        group=run_id,
        settings=settings,
        tags=_provenance_tags(ds, splits),
        extra_config={"ds": ds, "data_fingerprint": data.fingerprint, "dataset": str(dataset)},
    )
    summary = CandidateSummary(
        ds=ds,
        run_id=run_id,
        model_name=model_name,
        params=result.params,
        metrics=result.metrics,
        model_path=str(model_path),
        wandb_run_id=tracked.id if tracked else None,
        wandb_url=tracked.url if tracked else None,
        calibration=result.calibration,
        training_ranges=result.training_ranges,
    ).dump()
    write_json(out / "candidate.json", summary)
    return summary


def _provenance_tags(ds: str, splits: Any) -> list[str]:
    """W&B tags: the logical date and the sources of the training rows."""
    sources = sorted({str(s) for part in splits for s in part["source"].dropna().unique()})
    return [f"ds:{ds}", *(f"source:{s}" for s in sources)]


def _rescore_champion(registry: Any, splits: Any) -> tuple[str | None, float | None, str | None]:
    """(version, test RMSE on today's test set, error) of the serving champion, if any."""
    from moviescore.training.candidates import evaluate

    pointer = registry.champion()
    if pointer is None:
        return None, None, None
    version = pointer.version
    try:
        bundle = registry.load(version)
        return version, float(evaluate(bundle.pipeline, splits.test)["rmse"]), None
    except Exception as exc:  # an unreadable champion must not block a good challenger
        log.warning("champion %s could not be re-scored: %s", version, exc)
        return version, None, f"{type(exc).__name__}: {exc}"


def promote_step(
    ds: str, candidates: Sequence[Mapping[str, Any] | CandidateSummary]
) -> dict[str, Any]:
    """Champion/challenger by RMSE gap; the decision is written whether or not it promotes.
    Takes the train steps' summaries (XCom dicts or models); returns a `PromotionRecord` as JSON."""
    from moviescore.records import build_manifest
    from moviescore.registry.store import Registry
    from moviescore.serving.comparables import comparables_files
    from moviescore.training.candidates import baseline_metrics
    from moviescore.training.promotion import PromotionPolicy, decide, pick_challenger
    from moviescore.training.tracking import log_promotion

    settings = get_settings()
    run_id = run_id_for(ds)
    dataset = _dataset_dir(settings, ds)
    splits = load_splits(dataset)
    data_summary = read_dataset_summary(dataset)
    scored = [
        parse(CandidateSummary, c, f"candidate {i} of {run_id}") for i, c in enumerate(candidates)
    ]
    registry = Registry.from_settings(settings)
    challenger = pick_challenger(scored)
    baseline = baseline_metrics(splits)
    champion_version, champion_rmse, champion_error = _rescore_champion(registry, splits)
    decision = decide(
        challenger,
        champion_rmse,
        baseline["test_rmse"],
        PromotionPolicy.from_settings(settings),
        champion_error=champion_error,
    )
    record = PromotionRecord(
        ds=ds,
        run_id=run_id,
        promoted=decision.promote,
        reason=decision.reason,
        challenger=challenger.model_name,
        previous_champion=champion_version,
        previous_champion_test_rmse=champion_rmse,
        previous_champion_error=champion_error,
        baseline=baseline,
        candidates=[c.score() for c in scored],
        data=data_summary,
        champion_version=champion_version,
    )
    if decision.promote:
        pipeline = joblib.load(challenger.model_path)
        manifest = build_manifest(
            challenger,
            pipeline,
            params=challenger.params,
            run_id=run_id,
            ds=ds,
            data_fingerprint=data_summary.fingerprint,
            calibration=challenger.calibration,
            training_ranges=challenger.training_ranges,
        )
        fitted_on = pd.concat([splits.train, splits.val], ignore_index=True)  # as train_candidate
        record.champion_version = registry.publish(
            pipeline, manifest, extra_files=comparables_files(fitted_on)
        )
        registry.set_champion(record.champion_version, record)
    registry.write_decision(run_id, record)
    out = record.dump()
    write_json(settings.runs_dir / run_id / "decision.json", out)
    log.info("promotion decision for %s: %s", run_id, decision.reason)
    log_promotion(
        decision=out,
        group=run_id,
        settings=settings,
        champion_model_name=challenger.model_name if decision.promote else None,
        champion_artifact_path=Path(challenger.model_path) if decision.promote else None,
        candidate_models={c.model_name: Path(c.model_path) for c in scored},
        tags=_provenance_tags(ds, splits),
    )
    return out


def run_all(ds: str, source: str | None = None, snapshot: str | None = None) -> dict[str, Any]:
    """The whole DAG in one process, with the same step functions (for `moviescore pipeline`)."""
    from moviescore.training.specs import CANDIDATES

    collected = collect_step(ds, source, snapshot)
    prepared = preprocess_step(ds)
    candidates = [train_step(ds, name) for name in CANDIDATES]
    decision = promote_step(ds, candidates)
    return {"collect": collected, "preprocess": prepared, "decision": decision}
