"""One notifier for every ThreatStream alert: missed deadlines, failed runs, data quality.

Every alert is always written as one structured log line (logger ``threatstream.alerts``,
``ThreatStream alert {json}``), wherever it is raised: in a task, in the triggerer (deadline
callbacks) or in the DAG processor (failure callbacks). When the HTTP connection
``threatstream_alerts`` exists, the alert is also POSTed to it as a chat message that Slack
and Microsoft Teams incoming webhooks accept (``{"text": ...}``); set
``[threatstream] alert_payload = teams_workflow`` for a Teams Workflows webhook, which wants an
Adaptive Card. A webhook that cannot be reached is logged (without its URL) and never fails
the task that raised the alert.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseNotifier

from threatstream.naming import NAME_PREFIX, airflow_name
from threatstream.settings import settings

log = logging.getLogger("threatstream.alerts")

#: The HTTP connection alerts are POSTed to, when it exists.
ALERTS_CONN_ID = airflow_name("alerts")

#: What each alert event means (also the title of the chat message).
EVENTS: dict[str, str] = {
    "deadline_missed": "run missed its freshness deadline",
    "run_failed": "run failed",
    "reject_ratio_high": "many records rejected",
    "zero_records": "feed returned no records",
    "quota_low": "feed quota nearly exhausted",
    "unknown_tlp": "records with an unknown TLP label",
}

_SEVERITY_ICONS = {"info": "ℹ️", "warning": "⚠️", "error": "🔴"}  # noqa: RUF001


@dataclass(frozen=True)
class Alert:
    """One notification: what happened, to which source and run, and the numbers behind it."""

    event: str
    severity: str
    message: str
    source: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def title(self) -> str:
        subject = self.dag_id or (airflow_name(self.source) if self.source else NAME_PREFIX)
        return f"{subject}: {EVENTS.get(self.event, self.event)}"

    def text(self) -> str:
        """The chat message: title, message, run id and details, in Slack/Teams markdown."""
        icon = _SEVERITY_ICONS.get(self.severity, "")
        lines = [f"{icon} *{self.title()}*".strip(), self.message]
        if self.run_id:
            lines.append(f"run: `{self.run_id}`")
        lines.extend(f"• {key}: {value}" for key, value in self.details.items())
        return "\n".join(lines)


def webhook_payload(alert: Alert, payload_format: str = "slack") -> dict[str, Any]:
    """The JSON body for an incoming webhook.

    ``slack`` (default) is ``{"text": ...}``: accepted by Slack incoming webhooks and by
    Microsoft Teams (Office 365 connector) incoming webhooks. ``teams_workflow`` is an Adaptive
    Card message, what a Teams "Workflows" webhook expects.
    """
    if payload_format == "teams_workflow":
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": alert.title(), "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": alert.message, "wrap": True},
                {
                    "type": "FactSet",
                    "facts": [
                        {"title": str(key), "value": str(value)}
                        for key, value in {"run": alert.run_id, **alert.details}.items()
                        if value is not None
                    ],
                },
            ],
        }
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
    if payload_format != "slack":
        raise ValueError(
            f"[threatstream] alert_payload must be 'slack' or 'teams_workflow', not {payload_format!r}"
        )
    return {"text": alert.text()}


def log_alert(alert: Alert) -> None:
    """The structured log line every alert produces."""
    level = logging.ERROR if alert.severity == "error" else logging.WARNING
    log.log(level, "ThreatStream alert %s", json.dumps(asdict(alert), sort_keys=True, default=str))


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


def send_alert(alert: Alert, conn_id: str = ALERTS_CONN_ID) -> None:
    """Log the alert, then deliver it to the webhook connection if there is one."""
    log_alert(alert)
    post_webhook(alert, conn_id)


def _context_value(context: Mapping[str, Any], key: str, attribute: str) -> Any:
    """``context[key].attribute`` whether the value is an object (tasks) or a dict (triggerer)."""
    value = context.get(key)
    if isinstance(value, Mapping):
        return value.get(attribute)
    return getattr(value, attribute, None)


class ThreatStreamNotifier(BaseNotifier):
    """The package's notifier: DAG failure callbacks and Deadline Alert callbacks.

    As a failure callback: ``on_failure_callback=ThreatStreamNotifier(event="run_failed", source=...)``.
    As a deadline callback (runs in the triggerer): ``AsyncCallback(ThreatStreamNotifier,
    kwargs={"event": "deadline_missed", "source": ..., "details": {...}})``; the triggerer builds
    it with the kwargs plus a ``context`` (``dag_run`` as a dict, ``deadline``) and awaits it.

    :param event: one of :data:`EVENTS`.
    :param source: the source whose DAG raised it.
    :param message: the text; a default is derived from the event and the context.
    :param severity: ``info``, ``warning`` or ``error``.
    :param details: extra facts (JSON-serialisable) shown with the alert.
    :param conn_id: the webhook connection.
    """

    template_fields = ("message",)

    def __init__(
        self,
        *,
        event: str = "run_failed",
        source: str | None = None,
        message: str | None = None,
        severity: str | None = None,
        details: Mapping[str, Any] | None = None,
        conn_id: str = ALERTS_CONN_ID,
        context: Any = None,
    ) -> None:
        super().__init__()  # Airflow 3.0's BaseNotifier takes no context; 3.1+ defaults it to {}
        if context is not None:
            self.context = context
        self.event = event
        self.source = source
        self.message = message or ""
        self.severity = severity or ("error" if event == "run_failed" else "warning")
        self.details = dict(details or {})
        self.conn_id = conn_id

    def build_alert(self, context: Mapping[str, Any]) -> Alert:
        """The alert for this event in ``context`` (a task/DAG context or a deadline context)."""
        dag_id = _context_value(context, "dag_run", "dag_id") or _context_value(context, "dag", "dag_id")
        # A task or DAG context holds a DagRun; the triggerer's deadline context a REST-style
        # DAGRunResponse dict, whose run id key is ``dag_run_id``.
        run_id = _context_value(context, "dag_run", "run_id") or _context_value(
            context, "dag_run", "dag_run_id"
        )
        details = dict(self.details)
        message = self.message
        if self.event == "deadline_missed":
            deadline = context.get("deadline")
            if isinstance(deadline, Mapping) and deadline.get("deadline_time"):
                details.setdefault("deadline_time", str(deadline["deadline_time"]))
            details.setdefault("queued_at", _context_value(context, "dag_run", "queued_at"))
            message = (
                message
                or "The run has not finished within its freshness deadline: the feed's data is going stale."
            )
        elif self.event == "run_failed":
            reason = context.get("reason") or context.get("exception")
            if reason:
                details.setdefault("reason", str(reason)[:500])
            message = message or "A run failed; open the red task's log in the Airflow UI."
        return Alert(
            event=self.event,
            severity=self.severity,
            message=message or EVENTS.get(self.event, self.event),
            source=self.source,
            dag_id=dag_id,
            run_id=run_id,
            details={key: value for key, value in details.items() if value is not None},
        )

    def notify(self, context: Any) -> None:
        send_alert(self.build_alert(context), self.conn_id)

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)


__all__ = [
    "ALERTS_CONN_ID",
    "EVENTS",
    "Alert",
    "ThreatStreamNotifier",
    "log_alert",
    "post_webhook",
    "send_alert",
    "webhook_payload",
]
