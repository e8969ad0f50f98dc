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

from threatstream.monitoring.notify import (
    Alert,
    ThreatStreamNotifier,
    post_webhook,
    send_alert,
    webhook_payload,
)

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
    assert "deadline_time: 2026-11-28T11:00:00Z" in body["text"]


def test_failure_callback_alert_carries_the_reason() -> None:
    class DagRun:
        dag_id = "threatstream_urlhaus"
        run_id = "scheduled__2026-11-28T10:00:00+00:00"

    alert = ThreatStreamNotifier(event="run_failed", source="urlhaus").build_alert(
        {"dag_run": DagRun(), "reason": "task_failure"}
    )
    assert (alert.severity, alert.dag_id, alert.run_id) == ("error", DagRun.dag_id, DagRun.run_id)
    assert alert.details == {"reason": "task_failure"}
