"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME, set before airflow is first imported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def airflow_home_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What every Airflow process of a test needs: its own home, no examples, our DAG folder."""
    return {
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    }


@pytest.fixture(scope="session")
def dagbag(airflow_home_env: dict[str, str]) -> Iterator[Any]:
    """The DAG folder parsed as the dag-processor parses it; needs no metadata database."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in airflow_home_env.items():
            mp.setenv(key, value)
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="session")
def dag(dagbag: Any) -> Any:
    assert dagbag.import_errors == {}, dagbag.import_errors
    return dagbag.dags["tmdb_score_pipeline"]
