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

from moviescore.config import ConfigurationError, Settings, get_settings
from moviescore.ingest.partitions import SPLITS, Splits
from moviescore.records import CandidateSummary, DatasetSummary, parse
from moviescore.storage import DataStore, write_json

log = logging.getLogger(__name__)
MODEL_FILE = "model.joblib"
CANDIDATE_FILE = "candidate.json"


def run_id_for(ds: str) -> str:
    """One pipeline run per logical date: a re-run of the date overwrites, never duplicates."""
    from moviescore.ingest.partitions import iso_day

    return f"run-{iso_day(ds)}"


def resolve_ds(ds: object, run_after: object = None) -> str:
    """The logical date a step works for: `ds`, else the day of `run_after` (a manual Airflow
    run without a logical date has ds None; its own time is `dag_run.run_after`).
    `ConfigurationError` for anything that is not a date."""
    from moviescore.ingest.partitions import iso_day

    value = ds if ds not in (None, "", "None") else run_after
    if value is None:
        raise ConfigurationError("no logical date: pass --date YYYY-MM-DD (or a run time)")
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    try:
        return iso_day(text[:10])
    except ValueError:
        raise ConfigurationError(f"{value!r} is not a date: expected YYYY-MM-DD") from None


def source_of(source: str | None, snapshot: str | None, settings: Settings) -> str:
    """The source a collection uses; `ConfigurationError` for a combination that cannot work.
    A snapshot without a source means source=snapshot."""
    from moviescore.ingest.sources import SOURCES, default_source

    if source is None:
        source = "snapshot" if snapshot else default_source(settings)
    if source not in SOURCES:
        raise ConfigurationError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    if source == "snapshot":
        if not snapshot:
            raise ConfigurationError("source 'snapshot' needs a file: set the snapshot path")
        path = Path(snapshot)
        if not path.is_file():
            raise ConfigurationError(f"snapshot {path} does not exist (or is not a file) here")
    elif snapshot:
        raise ConfigurationError(
            f"a snapshot ({snapshot}) was given with source {source!r}: "
            "use source 'snapshot', or leave the snapshot empty"
        )
    return source


def collect_step(ds: str, source: str | None = None, snapshot: str | None = None) -> dict[str, Any]:
    from moviescore.ingest.partitions import write_partition
    from moviescore.ingest.sources import SnapshotFormatError, load_source
    from moviescore.ingest.validate import TooManyRejected, validate_raw, write_rejected

    settings = get_settings()
    ds = resolve_ds(ds)
    day = date.fromisoformat(ds)
    source = source_of(source, snapshot, settings)
    try:
        raw = load_source(
            source, date=day, snapshot=Path(snapshot) if snapshot else None, settings=settings
        )
    except (SnapshotFormatError, OSError) as exc:
        if source != "snapshot":
            raise
        raise ConfigurationError(f"cannot read the snapshot: {exc}; fix or replace it") from exc
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
    from moviescore.ingest.provenance import one_scale, release_range, source_counts
    from moviescore.registry.store import Registry

    settings = get_settings()
    ds = resolve_ds(ds)
    check_registry(Registry.from_settings(settings))  # before any training, not after it
    store = DataStore.from_settings(settings)
    movies = read_all_partitions(settings, until=date.fromisoformat(ds), store=store)
    chosen = one_scale(movies)  # TMDB rows train TMDB models; the sample only on its own
    labelled = label_filter(chosen.movies, settings.min_vote_count)
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
        label_scale=chosen.scale,
        demo=chosen.demo,
        sources=source_counts(labelled),
        release_dates={name: release_range(getattr(splits, name)) for name in SPLITS},
        excluded=chosen.excluded,
    ).dump()
    store.put_json(f"{folder}/summary.json", summary)
    return summary


def check_registry(registry: Any) -> None:
    """The bucket answers; a missing bucket is a configuration error (retrying cannot help),
    an unreachable endpoint an ordinary one (it may come back)."""
    from moviescore.registry.s3 import BucketMissing

    try:
        registry.check()
    except BucketMissing as exc:
        raise ConfigurationError(str(exc)) from exc


def provenance(data: DatasetSummary) -> dict[str, Any]:
    """What a model learned from, for a W&B run config and a manifest."""
    keys = ("ds", "label_scale", "demo", "sources", "release_dates", "fingerprint")
    doc = data.dump()
    return {"data": {k: doc[k] for k in keys if k in doc} | {s: doc[s] for s in SPLITS}}


def read_dataset_summary(folder: str, store: DataStore) -> DatasetSummary:
    key = f"{folder}/summary.json"
    return parse(DatasetSummary, store.get_bytes(key), store.url(key))


def load_splits(folder: str, store: DataStore) -> Any:
    """The train/val/test frames of the dataset in the store folder `folder`."""

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
    ds = resolve_ds(ds)
    run_id = run_id_for(ds)
    # W&B logs files of this machine: the splits are fetched once, into the local cache
    local = [store.local_path(f"{dataset_key(ds)}/{name}.parquet") for name in SPLITS]
    splits = Splits(*(pd.read_parquet(path) for path in local))
    data = read_dataset_summary(dataset_key(ds), store)
    result = train_candidate(model_name, splits)
    model_key = store.put_joblib(candidate_key(run_id, model_name, MODEL_FILE), result.pipeline)
    tracked = log_candidate(
        model_name=model_name,
        params=result.params,
        metrics=result.metrics,
        feature_importances=result.feature_importances,
        learning_curve=result.learning_curve,
        test_movies=splits.test,
        test_true=result.test_true.tolist(),
        test_pred=result.test_pred.tolist(),
        model_path=store.written_path(model_key),  # the copy put_joblib just left here
        dataset=data.model_copy(update={"dataset": str(local[0].parent)}),
        group=run_id,
        settings=settings,
        tags=_provenance_tags(ds, splits),
        extra_config={
            "ds": ds,
            "data_fingerprint": data.fingerprint,
            "dataset": store.url(dataset_key(ds)),
            **provenance(data),
        },
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
        calibration=result.calibration,
        training_ranges=result.training_ranges,
    ).dump()
    store.put_json(candidate_key(run_id, model_name, CANDIDATE_FILE), summary)
    return summary


def _provenance_tags(ds: str, splits: Any) -> list[str]:
    """W&B tags: the logical date and the sources of the training rows."""
    sources = sorted({str(s) for part in splits for s in part["source"].dropna().unique()})
    return [f"ds:{ds}", *(f"source:{s}" for s in sources)]


def stored_candidates(ds: str) -> list[dict[str, Any]]:
    """The candidates the train steps of `ds` left in the store (what `step promote` decides on
    without XCom), by model name."""
    store = DataStore.from_settings(get_settings())
    prefix = f"candidates/{run_id_for(ds)}"
    keys = [k for k in store.keys(prefix) if k.endswith(f"/{CANDIDATE_FILE}")]
    if not keys:
        raise FileNotFoundError(f"no trained candidates in {store.url(prefix)}: run train first")
    return [store.get_json(key) for key in keys]


def promote_step(
    ds: str, candidates: Sequence[Mapping[str, Any] | CandidateSummary]
) -> dict[str, Any]:
    """Champion/challenger by recipe (`training.shipping`); the decision is written whether or
    not it ships. Takes the train steps' summaries (XCom dicts or models); returns the final
    `PromotionRecord` as JSON."""
    from moviescore.registry.store import Registry
    from moviescore.training.candidates import baseline_metrics
    from moviescore.training.promotion import PromotionPolicy
    from moviescore.training.shipping import promote
    from moviescore.training.tracking import log_promotion

    settings = get_settings()
    store = DataStore.from_settings(settings)
    ds = resolve_ds(ds)
    run_id = run_id_for(ds)
    splits = load_splits(dataset_key(ds), store)
    scored = [
        parse(CandidateSummary, c, f"candidate {i} of {run_id}") for i, c in enumerate(candidates)
    ]
    # the candidates' models, fetched from the store to this machine (a worker may be new)
    local = {c.model_name: store.local_path(c.model_path) for c in scored}
    scored = [c.model_copy(update={"model_path": str(local[c.model_name])}) for c in scored]
    record, shipped_path = promote(
        ds=ds,
        run_id=run_id,
        candidates=scored,
        splits=splits,
        data=read_dataset_summary(dataset_key(ds), store),
        baseline=baseline_metrics(splits),
        policy=PromotionPolicy.from_settings(settings),
        registry=Registry.from_settings(settings),
        out_dir=settings.runs_dir / run_id,
    )
    out = record.dump()
    write_json(settings.runs_dir / run_id / "decision.json", out)
    log.info("promotion decision for %s: %s", run_id, record.reason)
    shipped_name = (record.shipped or {}).get("model_name") if shipped_path else None
    log_promotion(
        decision=out,
        group=run_id,
        settings=settings,
        champion_model_name=shipped_name,
        champion_artifact_path=shipped_path,
        candidate_models=local,
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
