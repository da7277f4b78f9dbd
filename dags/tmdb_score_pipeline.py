"""Daily training of the movie-score models: wiring only, every task is one call into moviescore.

Parsing this file imports Airflow and the candidate names (`moviescore.training.specs`, which loads
no model library); pandas, xgboost & co. are imported inside the task bodies, so the dag-processor
stays fast.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from moviescore.training.specs import CANDIDATES

DAG_ID = "tmdb_score_pipeline"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "moviescore",
    "retries": 2,
    # retry_delay is Airflow's [core] default_task_retry_delay (300 s unless
    # AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY says otherwise), doubled on each further try.
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
}

DOC_MD = """
### TMDB movie score — daily training (instance A)

Every day at **00:00 UTC (09:00 KST)** for the logical date `ds`:

1. **collect** — new and upcoming releases around `ds` from TMDB (or a snapshot / the offline
   sample), validated; rejected rows go to `s3://$S3_BUCKET/data/rejected/date=ds.csv`. Written
   as the partition `data/raw/date=ds/movies.parquet` in the bucket — running a date again
   replaces it, never duplicates it.
2. **preprocess** — every partition up to `ds`, label filter (`vote_count > MIN_VOTE_COUNT`),
   time-based split: train on older releases, validate and test on newer ones.
3. **train** ×3 (mapped: xgboost, lightgbm, random_forest) — one W&B run each (offline unless
   `WANDB_API_KEY` is set), grouped by the pipeline run id of `ds` (`run-<ds>`; a re-run of `ds`
   reuses it).
4. **promote** — recipes are judged, not stored artifacts. The candidate with the lowest
   *validation* RMSE is the challenger; the champion's recipe (model and parameters from its
   manifest) is fitted on the same train split; both are scored on the same test rows, which
   neither saw. The challenger wins when its test RMSE beats the champion recipe's by at least
   `MIN_RMSE_IMPROVEMENT` and its overfit gap (test − train RMSE) stays under `MAX_RMSE_GAP`;
   with no champion it must beat the mean-rating baseline. What ships is the winning recipe
   refitted on every labelled row up to `ds` (a `refresh` when the champion's recipe holds and
   the data is newer), after a sanity check against the model that was judged. A run for a date
   older than the champion's never replaces it; a model that learned from the offline sample
   (IMDb ratings, `demo`) never replaces a TMDB one. `models/champion.json` moves last, by a
   compare-and-swap (If-Match on the ETag the decision read): of two runs promoting at once one
   wins and the other re-decides against the new champion. Every attempt is written to
   `s3://$S3_BUCKET/runs/<run_id>/attempts/` and the latest to `decision.json`. Only one
   promote task runs at a time across runs (`max_active_tis_per_dag=1`).

**Manual run**: *Trigger DAG w/ config* and choose `source` (`tmdb`, `snapshot` with a `snapshot`
path readable by the worker, or `sample`); empty = TMDB when a key is configured, else the sample;
a `snapshot` path alone means `source=snapshot`. A run without a logical date (`airflow dags
trigger` without `-l`) works for the day of its own run time.

**Backfill** a range of dates, one date at a time (each date is idempotent, so re-running is
safe; the DAG stays correct without the flag, but dates would then train in parallel):
`airflow backfill create --dag-id tmdb_score_pipeline --from-date 2026-11-01 --to-date 2026-11-07
--max-active-runs 1`. A backfill evaluates history: it never replaces a champion trained for a
later date. One date in isolation: `airflow dags test tmdb_score_pipeline 2026-11-22`.

**Retries**: every task retries twice, with exponential backoff from `[core]
default_task_retry_delay` (5 min by default; at most 30 min). A configuration mistake (a missing
or unreadable snapshot, a snapshot with another source, a bad date, a missing bucket) fails at
once without retries and says what to change. A task that still fails leaves earlier outputs
untouched; fix the cause, then *Clear* the task.
"""


def _library(step: Any, *args: Any) -> Any:
    """One call into moviescore; a `ConfigurationError` fails the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from moviescore.config import ConfigurationError

    try:
        return step(*args)
    except ConfigurationError as exc:
        raise AirflowFailException(str(exc)) from exc


def _ds(ds: str | None, dag_run: Any) -> str:
    from moviescore.steps import resolve_ds

    return _library(resolve_ds, ds, getattr(dag_run, "run_after", None))


@dag(
    dag_id=DAG_ID,
    schedule="0 0 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "source": Param(
            None,
            type=["null", "string"],
            enum=[None, "tmdb", "snapshot", "sample"],
            description="Where movies come from; empty = TMDB if a key is set, else the sample.",
        ),
        "snapshot": Param(
            None,
            type=["null", "string"],
            description="Path of a snapshot file on the worker (only for source=snapshot).",
        ),
    },
    doc_md=DOC_MD,
    tags=["moviescore", "training"],
)
def tmdb_score_pipeline() -> None:
    @task
    def collect(
        ds: str | None = None, params: dict[str, Any] | None = None, dag_run: Any = None
    ) -> dict[str, Any]:
        from moviescore.steps import collect_step

        conf = params or {}
        return _library(collect_step, _ds(ds, dag_run), conf.get("source"), conf.get("snapshot"))

    @task
    def preprocess(ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
        from moviescore.steps import preprocess_step

        return _library(preprocess_step, _ds(ds, dag_run))

    @task
    def train(model_name: str, ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
        from moviescore.steps import train_step

        return _library(train_step, _ds(ds, dag_run), model_name)

    # one promotion at a time across runs (backfills run dates in parallel); the registry's
    # compare-and-swap keeps the pointer right even without it
    @task(max_active_tis_per_dag=1)
    def promote(
        candidates: list[dict[str, Any]], ds: str | None = None, dag_run: Any = None
    ) -> dict[str, Any]:
        from moviescore.steps import promote_step

        return _library(promote_step, _ds(ds, dag_run), list(candidates))

    # Each step reads from the data store (the bucket) what the one before wrote for `ds`, so any
    # worker can run it; XCom carries only keys and metrics (train's summaries reach promote).
    trained = train.expand(model_name=list(CANDIDATES))
    collect() >> preprocess() >> trained
    promote(trained)  # type: ignore[arg-type]


tmdb_score_pipeline()
