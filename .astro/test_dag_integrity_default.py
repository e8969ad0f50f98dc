"""Run by `astro dev parse` (and `astro dev pytest`): every DAG file imports without errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

DAGS_FOLDER = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", Path(__file__).resolve().parents[1] / "dags"))


def _dagbag() -> Any:
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 / 3.1
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="module")
def dagbag() -> Any:
    return _dagbag()


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_every_source_has_a_dag(dagbag: Any) -> None:
    from threatstream.sources import SOURCES

    assert {spec.dag_id for spec in SOURCES.values()} <= set(dagbag.dag_ids)
