"""The DAG as the dag-processor sees it: imports cleanly, wired as designed, cheap to parse."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "tmdb_score_pipeline.py"


def test_dag_folder_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert list(dagbag.dags) == ["tmdb_score_pipeline"]


def test_tasks_and_order(dag: Any) -> None:
    upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {
        "collect": set(),
        "preprocess": {"collect"},
        "train": {"preprocess"},
        "promote": {"train"},
    }


def test_train_is_mapped_over_the_three_candidates(dag: Any) -> None:
    from moviescore.training.specs import CANDIDATES

    train = dag.task_dict["train"]
    assert train.is_mapped
    assert train.op_kwargs_expand_input.value == {"model_name": list(CANDIDATES)}
    # nothing else is passed: each instance derives the run id from `ds` itself
    assert not train.partial_kwargs.get("op_kwargs")


def test_schedule_is_daily_at_midnight_utc(dag: Any) -> None:
    assert dag.timetable.expression == "0 0 * * *"  # 09:00 KST
    assert str(dag.timetable.timezone) == "UTC"
    assert dag.start_date.tzinfo is not None
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_every_task_retries_with_backoff(dag: Any) -> None:
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_delay > timedelta(0), task.task_id
        assert task.retry_exponential_backoff > 1, task.task_id
        assert task.max_retry_delay <= timedelta(hours=1), task.task_id


def test_params_pick_a_source(dag: Any) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    source = dag.params.get_param("source")
    assert source.resolve(None) is None  # default: TMDB with a key, else the sample
    for choice in ("tmdb", "snapshot", "sample"):
        assert source.resolve(choice) == choice
    with pytest.raises(ParamValidationError):
        source.resolve("ftp")
    assert dag.params.get_param("snapshot").resolve("/data/movies.csv") == "/data/movies.csv"


def test_doc_tells_the_operator_what_and_how(dag: Any) -> None:
    doc = dag.doc_md
    for needle in ("09:00 KST", "MIN_RMSE_IMPROVEMENT", "MAX_RMSE_GAP", "backfill", "dags test"):
        assert needle in doc, needle
    for task in dag.tasks:  # the numbered list names each task, and no task that is gone
        assert f"**{task.task_id}**" in doc, task.task_id
    assert "**plan**" not in doc


def test_each_task_is_one_call_into_the_pipeline(dag: Any) -> None:
    """Wiring only: a task body imports from moviescore.steps and returns one call of it,
    through `_library` (which turns a `ConfigurationError` into a failure without retries)."""
    for task in dag.tasks:
        source = textwrap.dedent(inspect.getsource(task.python_callable))
        func = ast.parse(source).body[0]
        assert isinstance(func, ast.FunctionDef)
        body = [n for n in func.body if not isinstance(n, ast.Expr)]  # docstrings aside
        imports = [n for n in body if isinstance(n, ast.ImportFrom)]
        assert [n.module for n in imports] == ["moviescore.steps"], task.task_id
        step = {alias.asname or alias.name for alias in imports[0].names}
        assert len(step) == 1, task.task_id
        returns = [n for n in body if isinstance(n, ast.Return)]
        assert len(returns) == 1 and isinstance(call := returns[0].value, ast.Call), task.task_id
        assert isinstance(call.func, ast.Name) and call.func.id == "_library", task.task_id
        assert isinstance(call.args[0], ast.Name) and call.args[0].id in step, task.task_id


def test_one_promotion_at_a_time_and_backfills_one_date_at_a_time(dag: Any) -> None:
    assert dag.get_task("promote").max_active_tis_per_dag == 1  # across runs, no pool to create
    assert "--max-active-runs 1" in dag.doc_md


def test_a_configuration_error_fails_without_retries(dag: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from moviescore.config import ConfigurationError

    module = sys.modules[dag.get_task("collect").python_callable.__module__]

    def bad() -> None:
        raise ConfigurationError("snapshot /x does not exist")

    with pytest.raises(AirflowFailException, match="snapshot /x does not exist"):
        module._library(bad)
    assert module._ds(None, type("Run", (), {"run_after": "2026-11-30T17:00:00+00:00"})()) == (
        "2026-11-30"
    )


@pytest.mark.slow
def test_parsing_imports_no_heavy_library() -> None:
    """The dag-processor re-parses the file often: it reads the candidate names from the library,
    while pandas, xgboost & co. load only in tasks."""
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "assert 'moviescore.training.specs' in sys.modules; "
        "print(','.join(m for m in ('numpy', 'pandas', 'xgboost', 'lightgbm', 'sklearn', 'onnx', "
        "'onnxruntime', 'wandb') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(DAG_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), out.stdout
