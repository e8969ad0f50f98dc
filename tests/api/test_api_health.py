"""Feed health from Airflow's metadata database: every registered source, its last runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from threatstream.sources.registry import all_sources
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import run_dag_file

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"

#: In the future, so the test's runs are the newest whatever else the session's database holds.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3650)


def _add_runs(dag_id: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    with create_session() as session:
        for hours, state in ((3, DagRunState.SUCCESS), (2, DagRunState.SUCCESS), (1, DagRunState.FAILED)):
            start = NOW - timedelta(hours=hours)
            session.add(
                DagRun(
                    dag_id=dag_id,
                    run_id=f"api_health_{uuid.uuid4().hex}",
                    run_type=DagRunType.SCHEDULED,
                    state=state,
                    logical_date=start,
                    run_after=start,
                    start_date=start,
                    data_interval=(start - timedelta(hours=1), start),
                )
            )
        session.flush()
        for run in session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id.like("api_health_%")):
            run.end_date = run.start_date + timedelta(seconds=90)


def test_health_lists_every_source_with_its_last_runs(airflow_db: Path, client: TestClient) -> None:
    first = all_sources()[0]
    _add_runs(first.dag_id)
    response = client.get("/api/v1/health", params={"runs": 2})
    assert response.status_code == 200, response.text
    feeds = response.json()["feeds"]
    assert [feed["source"] for feed in feeds] == [spec.name for spec in all_sources()]
    feed = feeds[0]
    assert feed["dag_id"] == first.dag_id
    assert [run["state"] for run in feed["runs"]] == ["failed", "success"]  # newest first, 2 asked
    assert feed["runs"][0]["duration_seconds"] == 90.0
    assert feed["runs"][0]["logical_date"] == (NOW - timedelta(hours=1)).isoformat()
    assert feed["last_success"] == (NOW - timedelta(hours=2, seconds=-90)).isoformat()
    assert isinstance(feed["age_seconds"], float)
    assert client.get("/api/v1/health", params={"runs": 0}).status_code == 422


def test_freshness_compares_the_last_success_with_period_plus_deadline() -> None:
    from threatstream.api.health import freshness

    hour = timedelta(hours=1)
    assert freshness(is_paused=False, age=hour, stale_after=2 * hour) == "fresh"
    assert freshness(is_paused=False, age=2 * hour + timedelta(seconds=1), stale_after=2 * hour) == "stale"
    assert freshness(is_paused=False, age=None, stale_after=hour) == "never"
    assert freshness(is_paused=True, age=hour, stale_after=2 * hour) == "paused"


def test_health_states_freshness_against_the_configured_deadline(
    airflow_db: Path, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threatstream.api.health import freshness
    from threatstream.pipelines.defaults import schedule_period

    first = all_sources()[0]
    period = schedule_period(first.schedule)
    monkeypatch.setenv(f"AIRFLOW__THREATSTREAM__{first.name.upper()}_DEADLINE_MINUTES", "30")
    (feed,) = [f for f in client.get("/api/v1/health").json()["feeds"] if f["source"] == first.name]
    assert feed["deadline_seconds"] == 1800.0
    assert feed["stale_after_seconds"] == (period + timedelta(minutes=30)).total_seconds()
    age = timedelta(seconds=feed["age_seconds"]) if feed["age_seconds"] is not None else None
    stale_after = timedelta(seconds=feed["stale_after_seconds"])
    assert feed["freshness"] == freshness(is_paused=feed["is_paused"], age=age, stale_after=stale_after)


@pytest.mark.dagrun
def test_health_reports_each_runs_counts_reasons_and_failed_tasks(
    airflow_db: Path,
    cosmos_database: str,
    feed_connections: FeedReplayServer,
    client: TestClient,
) -> None:
    """A real Feodo run (16 valid, 2 quarantined) and a failed one, as the health API shows them."""
    good = run_dag_file(str(DAGS_FOLDER), "threatstream_feodo", datetime(2026, 11, 28, 6, tzinfo=UTC))
    feed_connections.use_scenario("feodo", "html_error")
    bad = run_dag_file(str(DAGS_FOLDER), "threatstream_feodo", datetime(2026, 11, 28, 7, tzinfo=UTC))
    assert (good.state, bad.state) == ("success", "failed")

    (feed,) = [
        f for f in client.get("/api/v1/health", params={"runs": 50}).json()["feeds"] if f["source"] == "feodo"
    ]
    runs = {run["run_id"]: run for run in feed["runs"]}
    assert runs[good.run_id]["counts"] == {
        "fetched": 19,
        "valid": 16,
        "quarantined": 2,
        "expired": 0,
        "duplicates": 1,
        "written": 16,
        "failed": 0,
    }
    assert runs[good.run_id]["reasons"] == {"invalid_ip": 1, "non_global_ip": 1}
    assert runs[good.run_id]["failed_tasks"] == []
    assert runs[bad.run_id]["counts"] is None  # no upsert, no summary
    assert runs[bad.run_id]["failed_tasks"] == ["fetch"]
    assert feed["last_success"] is not None
    assert feed["freshness"] in ("fresh", "stale", "paused")
