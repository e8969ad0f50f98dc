"""Feed health from Airflow's metadata database: every registered source, its last runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from threatstream.sources.registry import all_sources

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
