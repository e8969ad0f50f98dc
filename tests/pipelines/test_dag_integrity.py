"""Every DAG file parses cleanly and follows the project's conventions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from threatstream.sources import all_sources
from threatstream_dev.runs import load_dagbag

#: Also part of the compatibility run on older Airflow versions (make test-compat).
pytestmark = pytest.mark.compat

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag() -> Any:
    return load_dagbag(DAGS_FOLDER)


def test_no_import_errors_or_warnings(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert dagbag.captured_warnings == {}


def test_one_dag_per_source(dagbag: Any) -> None:
    assert {spec.dag_id for spec in all_sources()} <= set(dagbag.dag_ids)  # and per list spec


@pytest.mark.parametrize("dag_id", [spec.dag_id for spec in all_sources()])
def test_dag_conventions(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert {"threatstream", dag_id.removeprefix("threatstream_")} <= set(dag.tags)
    assert dag.doc_md
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert [task.task_id for task in dag.topological_sort()] == ["fetch", "validate", "upsert"]
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff
        assert task.execution_timeout is not None
        assert task.owner == "threatstream"


def test_dag_files_are_thin() -> None:
    for path in DAGS_FOLDER.glob("*.py"):
        code = [
            line
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith(("#", '"""'))
        ]
        assert len(code) <= 6, f"{path.name} should only call the factory"


def _cron(timetable: Any) -> str:
    """A cron timetable's expression (public since Airflow 3.2, ``_expression`` before)."""
    return str(getattr(timetable, "expression", None) or timetable._expression)


def test_schedules_respect_feed_rules(dagbag: Any) -> None:
    from threatstream.compat import CronDataIntervalTimetable, CronTriggerTimetable

    for interval_based in ("threatstream_otx", "threatstream_taxii"):
        timetable = dagbag.dags[interval_based].timetable
        assert isinstance(timetable, CronDataIntervalTimetable)  # real data intervals: backfill works
        assert _cron(timetable) == "0 * * * *"
    for snapshot, cron in (
        ("threatstream_urlhaus", "*/15 * * * *"),
        ("threatstream_abuseipdb", "0 */6 * * *"),
        ("threatstream_feodo", "10 * * * *"),  # a static file refreshed every few minutes
        ("threatstream_cisa_kev", "30 6 * * *"),  # updated on working days
        ("threatstream_threatfox", "20 * * * *"),  # days=1: every run overlaps the last 23 hours
        ("threatstream_malwarebazaar", "*/30 * * * *"),  # half of the 60-minute selector=time window
        ("threatstream_threatfox_csv", "40 * * * *"),  # a list spec: the 48-hour export, hourly
        ("threatstream_misp_circl", "15 */6 * * *"),  # a MISP feed: incremental, the manifest every 6 h
    ):
        timetable = dagbag.dags[snapshot].timetable
        assert isinstance(timetable, CronTriggerTimetable), snapshot
        assert _cron(timetable) == cron  # URLhaus: >= 5 min apart; AbuseIPDB: <= 5 calls a day


def test_every_dag_is_watched(dagbag: Any) -> None:
    """Each DAG in the folder alerts on failure; the merged view and the export also on staleness."""
    from threatstream.compat import HAS_DEADLINES
    from threatstream.monitoring.notify import ThreatStreamNotifier

    assert len(dagbag.dag_ids) >= len(all_sources()) + 3
    for dag_id, dag in dagbag.dags.items():
        assert isinstance(dag.on_failure_callback, ThreatStreamNotifier), dag_id
        assert dag.on_failure_callback.event == "run_failed"
        if HAS_DEADLINES and dag_id != "threatstream_maintenance":
            assert dag.deadline, f"{dag_id} has no freshness deadline"
