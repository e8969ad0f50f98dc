"""What a ThreatStream alert is, and how it is delivered: one log line, then the webhook.

Every alert is always written as one structured log line (logger ``threatstream.alerts``,
``ThreatStream alert {json}``), wherever it is raised: in a task's log (failed tasks, data
quality), in the triggerer's log (deadline callbacks) or in the DAG processor's log (run
failure callbacks). When the HTTP connection ``threatstream_alerts`` exists, the alert is also
POSTed to it as a chat message that Slack and Microsoft Teams incoming webhooks accept
(``{"text": ...}``); set ``[threatstream] alert_payload = teams_workflow`` for a Teams
Workflows webhook, which wants an Adaptive Card. A webhook that cannot be reached is logged
(without its URL) and never fails the task that raised the alert.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from threatstream.naming import NAME_PREFIX, airflow_name
from threatstream.settings import settings

log = logging.getLogger("threatstream.alerts")

#: The HTTP connection alerts are POSTed to, when it exists.
ALERTS_CONN_ID = airflow_name("alerts")

#: What each alert event means (also the title of the chat message).
EVENTS: dict[str, str] = {
    "task_failed": "run failed: a task failed after its last try",
    "run_failed": "run failed",
    "deadline_missed": "run missed its freshness deadline",
    "reject_ratio_high": "many records rejected",
    "zero_records": "feed returned no records",
    "quota_low": "feed quota nearly exhausted",
    "unknown_tlp": "records with an unknown TLP label",
    "warninglist_hits": "many values on MISP warninglists",
}

#: The run failure reason Airflow gives a DAG's failure callback when a task failed.
TASK_FAILURE_REASON = "task_failure"

_SEVERITY_ICONS = {"info": "ℹ️", "warning": "⚠️", "error": "🔴"}  # noqa: RUF001


@dataclass(frozen=True)
class Alert:
    """One notification: what happened, where (DAG, run, task, try), the numbers, the links."""

    event: str
    severity: str
    message: str
    source: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    error: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def title(self) -> str:
        subject = self.dag_id or (airflow_name(self.source) if self.source else NAME_PREFIX)
        return f"{subject}: {EVENTS.get(self.event, self.event)}"

    def facts(self) -> dict[str, Any]:
        """Run, task, try, error, then the details: the lines under the message."""
        facts: dict[str, Any] = {
            "run": self.run_id,
            "task": self.task_id,
            "try": None if "tries" in self.details else self.try_number,
            "error": self.error,
        }
        facts.update(self.details)
        return {key: value for key, value in facts.items() if value is not None and value != ""}

    def text(self) -> str:
        """The chat message: title, message, facts and links, in Slack/Teams markdown."""
        icon = _SEVERITY_ICONS.get(self.severity, "")
        lines = [f"{icon} *{self.title()}*".strip(), self.message]
        for key, value in self.facts().items():
            lines.append(f"{key}: `{value}`" if key in ("run", "task", "error") else f"• {key}: {value}")
        lines.extend(f"open {name.replace('_', ' ')}: {url}" for name, url in self.links.items())
        return "\n".join(lines)


def webhook_payload(alert: Alert, payload_format: str = "slack") -> dict[str, Any]:
    """The JSON body for an incoming webhook.

    ``slack`` (default) is ``{"text": ...}``: accepted by Slack incoming webhooks and by
    Microsoft Teams (Office 365 connector) incoming webhooks. ``teams_workflow`` is an Adaptive
    Card message, what a Teams "Workflows" webhook expects; the links become buttons.
    """
    if payload_format == "teams_workflow":
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": alert.title(), "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": alert.message, "wrap": True},
                {
                    "type": "FactSet",
                    "facts": [
                        {"title": str(key), "value": str(value)} for key, value in alert.facts().items()
                    ],
                },
            ],
        }
        if alert.links:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": name, "url": url} for name, url in alert.links.items()
            ]
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
    if payload_format != "slack":
        raise ValueError(
            f"[threatstream] alert_payload must be 'slack' or 'teams_workflow', not {payload_format!r}"
        )
    return {"text": alert.text()}


#: What starts every alert's log line; the rest of the line is the alert as JSON.
ALERT_LOG_PREFIX = "ThreatStream alert "


def log_alert(alert: Alert) -> None:
    """The structured log line every alert produces."""
    level = {"error": logging.ERROR, "info": logging.INFO}.get(alert.severity, logging.WARNING)
    log.log(level, "%s%s", ALERT_LOG_PREFIX, json.dumps(asdict(alert), sort_keys=True, default=str))


def logged_alerts(records: Iterable[logging.LogRecord]) -> list[dict[str, Any]]:
    """The alerts (as dicts) among log records: the reader of :func:`log_alert`'s lines."""
    messages = (record.getMessage() for record in records if record.name == log.name)
    return [json.loads(m.removeprefix(ALERT_LOG_PREFIX)) for m in messages if m.startswith(ALERT_LOG_PREFIX)]


def post_webhook(alert: Alert, conn_id: str = ALERTS_CONN_ID) -> bool:
    """POST the alert to the webhook connection; False when there is none or delivery failed.

    The connection's host (and schema) is the webhook's base URL and its password (masked in
    the UI and in logs) the secret path, e.g. host ``hooks.slack.com``, schema ``https``,
    password ``/services/T000/B000/XXXX``. Errors are logged without the URL.
    """
    from airflow.providers.http.hooks.http import HttpHook

    try:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(conn_id)
    except Exception as error:  # no such connection: webhook delivery is optional
        if type(error).__name__ != "AirflowNotFoundException":
            log.error(
                "ThreatStream alert webhook %s: connection unreadable (%s)", conn_id, type(error).__name__
            )
        return False
    payload_format = settings().alert_payload
    try:
        hook = HttpHook(method="POST", http_conn_id=conn_id)
        response = hook.run(
            endpoint=connection.password or "",
            json=webhook_payload(alert, payload_format),
            extra_options={"check_response": False, "timeout": 10},
        )
    except ValueError:
        raise
    except Exception as error:
        log.error("ThreatStream alert webhook %s unreachable (%s)", conn_id, type(error).__name__)
        return False
    if response.status_code >= 300:
        log.error("ThreatStream alert webhook %s answered HTTP %s", conn_id, response.status_code)
        return False
    return True


def send_alert(alert: Alert, conn_id: str = ALERTS_CONN_ID, *, webhook: bool = True) -> None:
    """Log the alert, then (unless ``webhook`` is false) deliver it to the webhook connection."""
    log_alert(alert)
    if webhook:
        post_webhook(alert, conn_id)
