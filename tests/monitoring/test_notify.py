"""The notifier: payloads Slack and Teams accept, the structured log line, webhook delivery."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from threatstream.monitoring.alerts import Alert, logged_alerts, post_webhook, send_alert, webhook_payload
from threatstream.monitoring.notify import ThreatStreamNotifier

ALERT = Alert(
    event="quota_low",
    severity="warning",
    message="Only 1 requests left",
    source="abuseipdb",
    run_id="scheduled__2026-11-28T12:00:00+00:00",
    details={"rate_limit_limit": "5"},
)


class _Sink(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []  # noqa: RUF012
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Sink]]:
    """A local incoming-webhook stand-in, wired as the ``threatstream_alerts`` connection."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Sink.received, _Sink.status = [], 200
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "schema": "http",
        "password": "/services/T0/B0/secret-token",
    }
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_ALERTS", json.dumps(conn))
    yield _Sink
    server.shutdown()


def test_slack_payload_is_one_text_field() -> None:
    payload = webhook_payload(ALERT)
    assert set(payload) == {"text"}
    assert "threatstream_abuseipdb: feed quota nearly exhausted" in payload["text"]
    assert ALERT.run_id in payload["text"]
    assert "rate_limit_limit: 5" in payload["text"]


def test_teams_workflow_payload_is_an_adaptive_card() -> None:
    payload = webhook_payload(ALERT, "teams_workflow")
    attachment = payload["attachments"][0]
    assert payload["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    facts = attachment["content"]["body"][2]["facts"]
    assert {"title": "run", "value": ALERT.run_id} in facts


def test_unknown_payload_format_is_refused() -> None:
    with pytest.raises(ValueError, match="alert_payload"):
        webhook_payload(ALERT, "irc")


def test_every_alert_is_one_structured_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="threatstream.alerts"):
        send_alert(ALERT)  # no webhook connection: the log line only
    (record,) = [r for r in caplog.records if r.name == "threatstream.alerts"]
    logged = json.loads(record.getMessage().removeprefix("ThreatStream alert "))
    assert logged["event"] == "quota_low"
    assert logged["source"] == "abuseipdb"
    assert logged["details"] == {"rate_limit_limit": "5"}


def test_the_webhook_gets_the_alert_on_its_secret_path(webhook: type[_Sink]) -> None:
    assert post_webhook(ALERT)
    ((path, body),) = webhook.received
    assert path == "/services/T0/B0/secret-token"
    assert body == webhook_payload(ALERT)


def test_a_failing_webhook_is_logged_without_its_url(
    webhook: type[_Sink], caplog: pytest.LogCaptureFixture
) -> None:
    webhook.status = 500
    with caplog.at_level(logging.ERROR, logger="threatstream.alerts"):
        assert not post_webhook(ALERT)
    assert "HTTP 500" in caplog.text
    assert "secret-token" not in caplog.text


def test_deadline_callback_as_the_triggerer_runs_it(webhook: type[_Sink]) -> None:
    """The triggerer builds the notifier from the callback kwargs plus a context, then awaits it."""
    context = {
        # the shape the scheduler sends: DAGRunResponse.model_dump(mode="json")
        "dag_run": {
            "dag_id": "threatstream_otx",
            "dag_run_id": "manual__1",
            "queued_at": "2026-11-28T10:00:00Z",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-28T11:00:00Z"},
    }
    notifier = ThreatStreamNotifier(
        event="deadline_missed", source="otx", details={"deadline": "60 min"}, context=context
    )

    async def run() -> None:
        await notifier

    asyncio.run(run())
    ((_, body),) = webhook.received
    assert "threatstream_otx: run missed its freshness deadline" in body["text"]
    assert "manual__1" in body["text"]
    assert "deadline_time: 2026-11-28T11:00:00+00:00" in body["text"]
    assert "• overdue: " in body["text"]
    assert "open run: http://localhost:8080/dags/threatstream_otx/runs/manual__1" in body["text"]


SECRET = "s3cr3t-feed-key-9f8e7d"


class _TI:
    """A failed task's ``ti`` as the worker's context has it."""

    dag_id, task_id, map_index = "threatstream_urlhaus", "fetch", -1
    run_id = "scheduled__2026-11-28T10:00:00+00:00"
    try_number, max_tries = 3, 2


class _DagRun:
    dag_id = _TI.dag_id
    run_id = _TI.run_id


@pytest.fixture
def base_url(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org/")
    return "https://airflow.example.org"


def test_a_failed_tasks_alert_names_everything_and_masks_the_secret(
    webhook: type[_Sink], base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The task's on_failure_callback (its last try): DAG, run, task, try, error, links; no secret."""
    from airflow.sdk.log import mask_secret

    mask_secret(SECRET)  # what reading the feed's connection does in a task
    error = RuntimeError(
        f"urlhaus: HTTP 401 from https://feed:{SECRET}@urlhaus.example/v1 (key {SECRET})\nTraceback line 2"
    )
    notifier = ThreatStreamNotifier(event="task_failed", source="urlhaus")
    with caplog.at_level(logging.INFO, logger="threatstream.alerts"):
        notifier.notify({"ti": _TI(), "dag_run": _DagRun(), "exception": error})

    (logged,) = logged_alerts(caplog.records)
    ((_, body),) = webhook.received
    run_url = f"{base_url}/dags/threatstream_urlhaus/runs/scheduled__2026-11-28T10%3A00%3A00%2B00%3A00"
    assert logged["event"] == "task_failed"
    assert (logged["dag_id"], logged["run_id"], logged["task_id"]) == (_TI.dag_id, _TI.run_id, "fetch")
    assert logged["try_number"] == 3
    assert logged["details"]["tries"] == "3 of up to 3"
    assert (
        logged["error"]
        == "RuntimeError: urlhaus: HTTP 401 from https://feed:***@urlhaus.example/v1 (key ***)"
    )
    assert logged["links"] == {"run": run_url, "task_log": f"{run_url}/tasks/fetch?try_number=3"}
    assert logged["message"] == "Task fetch failed on try 3 of up to 3 and is not retried: the run fails."
    text = body["text"]
    assert "threatstream_urlhaus: run failed: a task failed after its last try" in text
    for fact in (
        f"run: `{_TI.run_id}`",
        "task: `fetch`",
        "• tries: 3 of up to 3",
        "error: `RuntimeError: urlhaus: HTTP 401",
    ):
        assert fact in text
    assert f"open task log: {run_url}/tasks/fetch?try_number=3" in text
    assert SECRET not in text
    assert SECRET not in caplog.text
    assert "Traceback line 2" not in text  # the first line only


def test_the_runs_failure_callback_logs_only_when_the_task_alerted(
    webhook: type[_Sink], base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The DAG's callback (DAG processor): names the task that ended the run; one webhook per run."""
    notifier = ThreatStreamNotifier(event="run_failed", source="urlhaus", task_alerts=True)
    with caplog.at_level(logging.INFO, logger="threatstream.alerts"):
        notifier.notify({"ti": _TI(), "dag_run": _DagRun(), "reason": "task_failure"})
    (logged,) = logged_alerts(caplog.records)
    assert not webhook.received
    assert logged["event"] == "run_failed"
    assert logged["task_id"] == "fetch"
    assert logged["try_number"] == 3
    assert logged["message"].startswith("The run failed: task fetch failed (try 3).")
    assert logged["details"] == {"reason": "task_failure"}
    assert logged["links"]["task_log"].endswith("/tasks/fetch?try_number=3")


def test_the_runs_failure_callback_alerts_when_no_task_did(webhook: type[_Sink], base_url: str) -> None:
    """A deadlock (or a DAG without task alerts) goes to the webhook from the DAG processor."""
    ThreatStreamNotifier(event="run_failed", source="urlhaus", task_alerts=True).notify(
        {"ti": _TI(), "dag_run": _DagRun(), "reason": "all_tasks_deadlocked"}
    )
    ThreatStreamNotifier(event="run_failed", source="urlhaus").notify(
        {"dag": _DagRun(), "run_id": "manual__2", "reason": "task_failure"}  # minimal context
    )
    first, second = (body["text"] for _, body in webhook.received)
    assert "The run failed: no task could run (first blocked: fetch)." in first
    assert "The run failed: a task failed." in second
    assert f"open run: {base_url}/dags/threatstream_urlhaus/runs/manual__2" in second


def test_a_deadline_that_fires_for_an_already_failed_run_is_logged_only(
    webhook: type[_Sink], caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow 3.3 keeps a failed run's deadline armed; the callback says so and does not page."""
    context = {
        "dag_run": {
            "dag_id": "threatstream_otx",
            "dag_run_id": "manual__1",
            "state": "failed",
            "queued_at": "2026-11-28T10:00:00Z",
            "end_date": "2026-11-28T10:05:00Z",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-28T11:00:00Z"},
    }
    with caplog.at_level(logging.INFO, logger="threatstream.alerts"):
        ThreatStreamNotifier(event="deadline_missed", source="otx").notify(context)
    (logged,) = logged_alerts(caplog.records)
    assert not webhook.received
    assert logged["severity"] == "info"
    assert "already failed at 2026-11-28T10:05:00+00:00" in logged["message"]
    assert logged["details"]["state"] == "failed"


def test_a_running_runs_deadline_alert_says_how_late(base_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    deadline_time = datetime.now(UTC) - timedelta(minutes=4, seconds=12)
    alert = ThreatStreamNotifier(
        event="deadline_missed", source="urlhaus", details={"deadline": "15 min after the run was queued"}
    ).build_alert(
        {
            "dag_run": {"dag_id": "threatstream_urlhaus", "dag_run_id": "scheduled__1", "state": "running"},
            "deadline": {"deadline_time": deadline_time.isoformat()},
        }
    )
    assert alert.message.startswith("The run is still running 4 min 1")
    assert alert.details["overdue"].startswith("4 min 1")
    assert alert.details["deadline"] == "15 min after the run was queued"
    assert alert.links == {"run": f"{base_url}/dags/threatstream_urlhaus/runs/scheduled__1"}


def test_data_quality_alerts_name_the_running_task(base_url: str) -> None:
    from threatstream.monitoring.context import with_task

    named = with_task(ALERT, {"ti": _TI()})
    assert (named.dag_id, named.task_id, named.try_number) == (_TI.dag_id, "fetch", 3)
    assert named.run_id == ALERT.run_id  # the alert's own run id wins
    assert named.links["task_log"].endswith("/tasks/fetch?try_number=3")
    assert with_task(ALERT, {}) == ALERT  # outside a task
