"""One notifier for every ThreatStream alert: failed tasks and runs, missed deadlines, data quality.

Every alert is always written as one structured log line (logger ``threatstream.alerts``,
``ThreatStream alert {json}``), wherever it is raised: in a task's log (failed tasks, data
quality), in the triggerer's log (deadline callbacks) or in the DAG processor's log (run
failure callbacks). When the HTTP connection ``threatstream_alerts`` exists, the alert is also
POSTed to it as a chat message that Slack and Microsoft Teams incoming webhooks accept
(``{"text": ...}``); set ``[threatstream] alert_payload = teams_workflow`` for a Teams
Workflows webhook, which wants an Adaptive Card. A webhook that cannot be reached is logged
(without its URL) and never fails the task that raised the alert.

Every alert names its DAG, run and (when a task raised it) task and try, and links to the run
and the task's log in the Airflow UI, built from ``[api] base_url`` the way Airflow 3 builds
``TaskInstance.log_url``. Error text is passed through Airflow's secrets masker and the
package's own redaction before it is logged or sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

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
}

#: The run failure reason Airflow gives a DAG's failure callback when a task failed.
TASK_FAILURE_REASON = "task_failure"

#: The longest error line an alert carries.
MAX_ERROR_LENGTH = 300

_SEVERITY_ICONS = {"info": "ℹ️", "warning": "⚠️", "error": "🔴"}  # noqa: RUF001
#: The password in a URL (``scheme://user:password@host``), whatever the masker knows.
_URL_PASSWORD = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


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


def log_alert(alert: Alert) -> None:
    """The structured log line every alert produces."""
    level = {"error": logging.ERROR, "info": logging.INFO}.get(alert.severity, logging.WARNING)
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


def send_alert(alert: Alert, conn_id: str = ALERTS_CONN_ID, *, webhook: bool = True) -> None:
    """Log the alert, then (unless ``webhook`` is false) deliver it to the webhook connection."""
    log_alert(alert)
    if webhook:
        post_webhook(alert, conn_id)


# --- what an alert says: redacted error lines, UI links, durations ---------------------------


def redact(text: str) -> str:
    """``text`` with every secret Airflow's masker knows, and any URL password, replaced by ``***``.

    The masker knows every connection password and sensitive extra a task (or the DAG
    processor, or the triggerer) read, and what the package's hooks registered
    (:mod:`threatstream.feeds.credentials`). Task logs are masked by Airflow already; a
    webhook body is not, so alert text goes through this before it is logged or sent.
    """
    masked = _URL_PASSWORD.sub(r"\g<prefix>***@", text)
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # pragma: no cover - Airflow 3.0/3.1 layout
        try:
            from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[attr-defined,no-redef,unused-ignore]
                redact as airflow_redact,
            )
        except ImportError:
            return masked
    return str(airflow_redact(masked))


def error_line(error: BaseException | str | None) -> str | None:
    """``"<ErrorClass>: <first line of its message>"``, redacted and cut; None without an error."""
    if error is None or error == "":
        return None
    if isinstance(error, BaseException):
        lines = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    else:
        text = str(error).strip().splitlines()[0]
    text = redact(text)  # redacted whole, then cut: no partial secret survives
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def ui_base_url() -> str:
    """``[api] base_url``, the root of every UI link (Airflow's own default when unset)."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - Airflow 3.0
        from airflow.configuration import conf
    base = conf.get("api", "base_url", fallback=None) or "http://localhost:8080/"
    return str(base).rstrip("/")


def ui_links(
    dag_id: str | None,
    run_id: str | None,
    task_id: str | None = None,
    *,
    try_number: int | None = None,
    map_index: int | None = None,
) -> dict[str, str]:
    """Links to the run and to the task's log in the Airflow 3 UI.

    The same routes as ``TaskInstance.log_url`` in Airflow 3.3:
    ``/dags/{dag_id}/runs/{run_id}`` and ``/dags/{dag_id}/runs/{run_id}/tasks/{task_id}``
    (``/mapped/{map_index}`` for a mapped task, ``?try_number=`` for one try's log).
    """
    if not dag_id or not run_id:
        return {}
    run_url = f"{ui_base_url()}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
    links = {"run": run_url}
    if task_id:
        mapped = f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else ""
        try_query = f"?try_number={try_number}" if try_number else ""
        links["task_log"] = f"{run_url}/tasks/{quote(task_id)}{mapped}{try_query}"
    return links


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO string (the triggerer's context is JSON)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def describe_seconds(seconds: float) -> str:
    """``"4 min 12 s"``, ``"1 h 3 min"``, ``"9 s"``: a duration for people."""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _context_value(context: Mapping[str, Any], key: str, attribute: str) -> Any:
    """``context[key].attribute`` whether the value is an object (tasks) or a dict (triggerer)."""
    value = context.get(key)
    if isinstance(value, Mapping):
        return value.get(attribute)
    return getattr(value, attribute, None)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ThreatStreamNotifier(BaseNotifier):
    """The package's notifier: task and DAG failure callbacks, Deadline Alert callbacks.

    * ``event="task_failed"``, a **task's** ``on_failure_callback`` (``threatstream_dag`` puts
      it in every DAG's ``default_args``): Airflow calls it only when the task failed for
      good (``on_retry_callback`` is called for the tries before), in the worker, so the
      alert is the last line of the failed try's log and carries the exception. It also
      goes to the webhook: one message per failed task, so one per failed run of the
      package's DAGs, whose tasks form a chain.
    * ``event="run_failed"``, the **DAG's** ``on_failure_callback``: run by the DAG processor
      (its log, not the task log), with the run's failure reason and the task whose failure
      ended the run, but no exception. With ``task_alerts=True`` (the DAG's tasks send their
      own alerts) and reason ``task_failure`` it logs only: the task's alert already went to
      the webhook. Other reasons (e.g. ``all_tasks_deadlocked``) go to the webhook too.
    * ``event="deadline_missed"``, a Deadline Alert's ``AsyncCallback`` (runs in the
      triggerer): the triggerer builds it with the kwargs plus a ``context`` (``dag_run`` as
      a dict, ``deadline``) and awaits it.

    :param event: one of :data:`EVENTS`.
    :param source: the source whose DAG raised it.
    :param message: the text; a default is derived from the event and the context.
    :param severity: ``info``, ``warning`` or ``error``.
    :param details: extra facts (JSON-serialisable) shown with the alert.
    :param conn_id: the webhook connection.
    :param task_alerts: (``run_failed``) the DAG's tasks alert on their own failures.
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
        task_alerts: bool = False,
        context: Any = None,
    ) -> None:
        super().__init__()  # Airflow 3.0's BaseNotifier takes no context; 3.1+ defaults it to {}
        if context is not None:
            self.context = context
        self.event = event
        self.source = source
        self.message = message or ""
        self.severity = severity or ("error" if event in ("run_failed", "task_failed") else "warning")
        self.details = dict(details or {})
        self.conn_id = conn_id
        self.task_alerts = task_alerts

    def build_alert(self, context: Mapping[str, Any]) -> Alert:
        """The alert for this event in ``context`` (a task/DAG context or a deadline context)."""
        if self.event == "deadline_missed":
            return self._deadline_alert(context)
        if self.event in ("task_failed", "run_failed"):
            return self._failure_alert(context)
        dag_id, run_id = self._run_of(context)
        return Alert(
            event=self.event,
            severity=self.severity,
            message=self.message or EVENTS.get(self.event, self.event),
            source=self.source,
            dag_id=dag_id,
            run_id=run_id,
            links=ui_links(dag_id, run_id),
            details=self._details(),
        )

    def sends_webhook(self, context: Mapping[str, Any]) -> bool:
        """Whether this alert goes to the webhook, or only to the log (see the class docstring)."""
        if self.event == "run_failed" and self.task_alerts:
            return context.get("reason") != TASK_FAILURE_REASON
        if self.event == "deadline_missed":
            return bool(_context_value(context, "dag_run", "state") != "failed")
        return True

    def get_template_env(self, dag: Any = None) -> Any:
        """The DAG's Jinja environment; a plain one for a DAG without it.

        ``dag.test()`` (Airflow 3.3) hands the DAG's failure callback the scheduler's
        ``SerializedDAG``, which has no ``get_template_env``: the alert must not be lost to that.
        """
        if dag is not None and not hasattr(dag, "get_template_env"):
            dag = None
        return super().get_template_env(dag=dag)

    def notify(self, context: Any) -> None:
        send_alert(self.build_alert(context), self.conn_id, webhook=self.sends_webhook(context))

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)

    # --- the events ---------------------------------------------------------------------

    @staticmethod
    def _run_of(context: Mapping[str, Any]) -> tuple[str | None, str | None]:
        dag_id = _context_value(context, "dag_run", "dag_id") or _context_value(context, "dag", "dag_id")
        # A task or DAG context holds a DagRun; the triggerer's deadline context a REST-style
        # DAGRunResponse dict, whose run id key is ``dag_run_id``.
        run_id = (
            _context_value(context, "dag_run", "run_id")
            or _context_value(context, "dag_run", "dag_run_id")
            or context.get("run_id")
        )
        return dag_id, run_id

    def _details(self, **extra: Any) -> dict[str, Any]:
        details = {**extra, **self.details}
        return {key: value for key, value in details.items() if value is not None}

    def _failure_alert(self, context: Mapping[str, Any]) -> Alert:
        dag_id, run_id = self._run_of(context)
        ti = context.get("ti")
        task_id = getattr(ti, "task_id", None)
        try_number = _int_or_none(getattr(ti, "try_number", None))
        max_tries = _int_or_none(getattr(ti, "max_tries", None))
        map_index = _int_or_none(getattr(ti, "map_index", None))
        error = error_line(context.get("exception"))
        reason = context.get("reason")
        where = f"{task_id}{f'[{map_index}]' if map_index is not None and map_index >= 0 else ''}"
        if self.event == "task_failed":
            allowed = f" of up to {max_tries + 1}" if max_tries is not None and try_number else ""
            message = f"Task {where} failed on try {try_number}{allowed} and is not retried: the run fails."
            tries_text = f"{try_number}{allowed}"
        else:
            causes = (
                {
                    TASK_FAILURE_REASON: f"task {where} failed (try {try_number})",
                    "all_tasks_deadlocked": f"no task could run (first blocked: {where})",
                }
                if task_id
                else {TASK_FAILURE_REASON: "a task failed", "all_tasks_deadlocked": "no task could run"}
            )
            cause = causes.get(str(reason), str(reason or "unknown reason"))
            message = f"The run failed: {cause}."
            if self.task_alerts and reason == TASK_FAILURE_REASON:
                message += " The task's own alert (its log, the webhook) carries the error."
            tries_text = None
        return Alert(
            event=self.event,
            severity=self.severity,
            message=self.message or message,
            source=self.source,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            try_number=try_number,
            error=error,
            links=ui_links(dag_id, run_id, task_id, try_number=try_number, map_index=map_index),
            details=self._details(
                tries=tries_text,
                reason=str(reason) if reason and self.event == "run_failed" else None,
            ),
        )

    def _deadline_alert(self, context: Mapping[str, Any]) -> Alert:
        dag_id, run_id = self._run_of(context)
        deadline = context.get("deadline")
        deadline_time = as_datetime(deadline.get("deadline_time")) if isinstance(deadline, Mapping) else None
        state = _context_value(context, "dag_run", "state")
        queued_at = as_datetime(_context_value(context, "dag_run", "queued_at"))
        end_date = as_datetime(_context_value(context, "dag_run", "end_date"))
        now = datetime.now(UTC)
        overdue = describe_seconds((now - deadline_time).total_seconds()) if deadline_time else None
        deadline_text = deadline_time.isoformat(timespec="seconds") if deadline_time else "its deadline"
        severity = self.severity
        if state == "failed":
            severity = "info"
            message = (
                f"The deadline {deadline_text} passed for a run that had already failed"
                + (f" at {end_date.isoformat(timespec='seconds')}" if end_date else "")
                + ": Airflow keeps a failed run's deadline armed (it removes deadlines only when a "
                "run succeeds). The run's failure alert reported it; this one is logged only."
            )
        elif state == "success":
            message = (
                f"The run finished after its deadline {deadline_text}"
                + (f", at {end_date.isoformat(timespec='seconds')}" if end_date else "")
                + ": the feed's data was late."
            )
        else:
            message = (
                f"The run is still {state or 'not finished'} {overdue or ''} after its freshness deadline "
                f"{deadline_text}: the feed's data is going stale."
            ).replace("  ", " ")
        return Alert(
            event=self.event,
            severity=severity,
            message=self.message or message,
            source=self.source,
            dag_id=dag_id,
            run_id=run_id,
            links=ui_links(dag_id, run_id),
            details=self._details(
                deadline_time=deadline_time.isoformat(timespec="seconds") if deadline_time else None,
                overdue=overdue,
                queued_at=queued_at.isoformat(timespec="seconds") if queued_at else None,
                state=state,
            ),
        )


def task_context() -> Mapping[str, Any] | None:
    """The running task's context, or None outside a task."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()
    except Exception:  # outside a task (tests, the triggerer): no context
        return None


def with_task(alert: Alert, context: Mapping[str, Any] | None = None) -> Alert:
    """``alert`` with the running task's DAG, run, task, try and UI links filled in."""
    from dataclasses import replace

    context = task_context() if context is None else context
    if not context:
        return alert
    ti = context.get("ti")
    dag_id = alert.dag_id or getattr(ti, "dag_id", None)
    run_id = alert.run_id or getattr(ti, "run_id", None)
    task_id = alert.task_id or getattr(ti, "task_id", None)
    try_number = alert.try_number or _int_or_none(getattr(ti, "try_number", None))
    map_index = _int_or_none(getattr(ti, "map_index", None))
    return replace(
        alert,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        try_number=try_number,
        links=alert.links or ui_links(dag_id, run_id, task_id, try_number=try_number, map_index=map_index),
    )


__all__ = [
    "ALERTS_CONN_ID",
    "EVENTS",
    "TASK_FAILURE_REASON",
    "Alert",
    "ThreatStreamNotifier",
    "error_line",
    "log_alert",
    "post_webhook",
    "redact",
    "send_alert",
    "ui_links",
    "webhook_payload",
    "with_task",
]
