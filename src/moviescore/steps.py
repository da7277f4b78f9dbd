"""The four steps of instance A, called by the Airflow DAG and by `moviescore pipeline` alike.

Each step takes and returns small JSON-serialisable values (dates, data store keys, ids,
metrics) so Airflow passes them through XCom; the data itself is in the data store
(`moviescore.storage.DataStore`: the bucket by default), so each step may run on another worker
with an empty DATA_DIR. Everything a step writes is keyed by the logical date `ds`, so running a
date again replaces its outputs instead of adding to them (tasks as transactions).

    raw/date=<ds>/movies.parquet                      collect
    rejected/date=<ds>.csv                            collect (only when rows were rejected)
    datasets/date=<ds>/{train,val,test}.parquet       preprocess; summary.json written last
    candidates/<run_id>/<model>/model.joblib          train; candidate.json written last
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from moviescore.config import Settings, get_settings
from moviescore.ingest.partitions import SPLITS
from moviescore.records import CandidateSummary, DatasetSummary, PromotionRecord, parse
from moviescore.storage import DataStore, write_json

log = logging.getLogger(__name__)
MODEL_FILE = "model.joblib"
CANDIDATE_FILE = "candidate.json"


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
    rejected_key = write_rejected(report, day, settings)
    store = DataStore.from_settings(settings)
    movies = _keep_unfetched(report.valid, raw, day, settings, store)
    partition = write_partition(movies, day, settings, store)
    log.info("collected %d movies from %s (%d rejected)", len(movies), source, len(report.rejected))
    return {
        "ds": ds,
        "source": source,
        "partition": partition,
        "rows": len(movies),
        "rejected": len(report.rejected),
        "rejected_report": rejected_key,
    }


def _keep_unfetched(
    valid: pd.DataFrame, raw: pd.DataFrame, day: date, settings: Settings, store: DataStore
) -> Any:
    """A re-run of a date whose TMDB details failed for some movies keeps those movies as the
    earlier run of the same date collected them, instead of dropping them from the partition."""
    from moviescore.ingest.partitions import partition_key, read_partition
    from moviescore.ingest.sources import COLLECT_REPORT

    # the report is JSON-shaped (ids as str keys): back to the int ids of the frame
    failed = {int(i) for i in raw.attrs.get(COLLECT_REPORT, {}).get("failed_ids", {})}
    if not failed or not store.exists(partition_key(day)):
        return valid
    earlier = read_partition(day, settings, store)
    kept = earlier[earlier["id"].isin(failed) & ~earlier["id"].isin(valid["id"])]
    if kept.empty:
        return valid
    log.warning("kept %d movies from the earlier %s partition: %s", len(kept), day, list(kept.id))
    return pd.concat([valid, kept], ignore_index=True)


def dataset_key(ds: str) -> str:
    """The data store folder of the dataset of `ds` (its splits and summary.json)."""
    from moviescore.ingest.partitions import iso_day

    return f"datasets/date={iso_day(ds)}"


def preprocess_step(ds: str) -> dict[str, Any]:
    """Labelled, time-split training data from every partition up to `ds` (never later ones);
    returns a `DatasetSummary` as JSON (XCom). The splits are written first, summary.json last:
    a dataset with a summary is complete."""
    from moviescore.ingest.partitions import (
        fingerprint,
        label_filter,
        read_all_partitions,
        time_split,
    )

    settings = get_settings()
    store = DataStore.from_settings(settings)
    movies = read_all_partitions(settings, until=date.fromisoformat(ds), store=store)
    labelled = label_filter(movies, settings.min_vote_count)
    splits = time_split(labelled)
    folder = dataset_key(ds)
    for name in SPLITS:
        frame = getattr(splits, name)
        store.put_parquet(
            f"{folder}/{name}.parquet", pa.Table.from_pandas(frame, preserve_index=False)
        )
    summary = DatasetSummary(
        ds=ds,
        dataset=folder,
        rows=len(movies),
        labelled=len(labelled),
        **{name: len(getattr(splits, name)) for name in SPLITS},
        fingerprint=fingerprint(labelled),
    ).dump()
    store.put_json(f"{folder}/summary.json", summary)
    return summary


def read_dataset_summary(folder: str, store: DataStore) -> DatasetSummary:
    key = f"{folder}/summary.json"
    return parse(DatasetSummary, store.get_bytes(key), store.url(key))


def load_splits(folder: str, store: DataStore) -> Any:
    """The train/val/test frames of the dataset in the store folder `folder`."""
    from moviescore.ingest.partitions import Splits

    keys = [f"{folder}/{name}.parquet" for name in SPLITS]
    return Splits(*(table.to_pandas() for table in store.get_parquets(keys)))


def candidate_key(run_id: str, model_name: str, name: str = "") -> str:
    return f"candidates/{run_id}/{model_name}" + (f"/{name}" if name else "")


def train_step(ds: str, model_name: str) -> dict[str, Any]:
    """One candidate fitted on the dataset of `ds`, saved under the run of `ds`; returns a
    `CandidateSummary` as JSON (XCom)."""
    from moviescore.training.candidates import train_candidate
    from moviescore.training.tracking import log_candidate

    settings = get_settings()
    store = DataStore.from_settings(settings)
    run_id = run_id_for(ds)
    splits = load_splits(dataset_key(ds), store)
    result = train_candidate(model_name, splits)
    model_key = store.put_joblib(candidate_key(run_id, model_name, MODEL_FILE), result.pipeline)
    tracked = log_candidate(
        model_name=model_name,
        params=result.params,
        metrics=result.metrics,
        feature_importances=result.feature_importances,
        test_true=result.test_true.tolist(),
        test_pred=result.test_pred.tolist(),
        model_path=store.local_path(model_key),  # W&B logs a file of this machine
        group=run_id,
        settings=settings,
        extra_config={"ds": ds},
    )
    summary = CandidateSummary(
        ds=ds,
        run_id=run_id,
        model_name=model_name,
        params=result.params,
        metrics=result.metrics,
        model_path=model_key,
        wandb_run_id=tracked.id if tracked else None,
        wandb_url=tracked.url if tracked else None,
    ).dump()
    store.put_json(candidate_key(run_id, model_name, CANDIDATE_FILE), summary)
    return summary


def stored_candidates(ds: str) -> list[dict[str, Any]]:
    """The candidates the train steps of `ds` left in the store (what `step promote` decides on
    without XCom), by model name."""
    store = DataStore.from_settings(get_settings())
    prefix = f"candidates/{run_id_for(ds)}"
    keys = [k for k in store.keys(prefix) if k.endswith(f"/{CANDIDATE_FILE}")]
    if not keys:
        raise FileNotFoundError(f"no trained candidates in {store.url(prefix)}: run train first")
    return [store.get_json(key) for key in keys]


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
    from moviescore.training.candidates import baseline_metrics
    from moviescore.training.promotion import PromotionPolicy, decide, pick_challenger
    from moviescore.training.tracking import log_promotion

    settings = get_settings()
    store = DataStore.from_settings(settings)
    run_id = run_id_for(ds)
    splits = load_splits(dataset_key(ds), store)
    data_summary = read_dataset_summary(dataset_key(ds), store)
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
        pipeline = store.get_joblib(challenger.model_path)
        manifest = build_manifest(
            challenger,
            pipeline,
            params=challenger.params,
            run_id=run_id,
            ds=ds,
            data_fingerprint=data_summary.fingerprint,
        )
        record.champion_version = registry.publish(pipeline, manifest)
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
        champion_artifact_path=store.local_path(challenger.model_path)
        if decision.promote
        else None,
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
