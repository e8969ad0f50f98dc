"""A real failed run: the task's alert (its last try only, in its log) and the DAG's, both naming it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from threatstream.monitoring.alerts import logged_alerts
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag

DAG_ID = "threatstream_threatfox"
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_a_failed_run_alerts_once_with_the_tasks_error(
    run_dag: RunDag,
    feed_connections: FeedReplayServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org")
    caplog.set_level(logging.INFO, logger="threatstream.alerts")
    feed_connections.use_scenario("threatfox", "auth_in_body")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"

    alerts = logged_alerts(caplog.records)
    (task_alert,) = [a for a in alerts if a["event"] == "task_failed"]
    (run_alert,) = [a for a in alerts if a["event"] == "run_failed"]
    assert (task_alert["dag_id"], task_alert["run_id"]) == (DAG_ID, outcome.run_id)
    assert (task_alert["task_id"], task_alert["try_number"]) == ("fetch", 1)
    assert task_alert["error"].startswith("FeedAuthError: ")
    run_url = f"https://airflow.example.org/dags/{DAG_ID}/runs/{quote(outcome.run_id)}"
    assert task_alert["links"] == {"run": run_url, "task_log": f"{run_url}/tasks/fetch?try_number=1"}
    assert (run_alert["run_id"], run_alert["task_id"]) == (outcome.run_id, "fetch")
    assert run_alert["details"]["reason"] == "task_failure"
    password = json.loads(feed_connections.connection_json("threatfox")).get("password")
    if password:
        assert password not in json.dumps(alerts)
