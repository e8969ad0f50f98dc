"""One notifier for every ThreatStream alert: failed tasks and runs, missed deadlines.

:class:`ThreatStreamNotifier` turns the context Airflow hands a callback (a task's, the DAG
processor's or the triggerer's) into an :class:`~threatstream.monitoring.alerts.Alert` that
names the DAG, run, task, try and error and links to the UI
(:mod:`threatstream.monitoring.context`), then logs and delivers it
(:func:`~threatstream.monitoring.alerts.send_alert`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseNotifier

from threatstream.monitoring.alerts import ALERTS_CONN_ID, EVENTS, TASK_FAILURE_REASON, Alert, send_alert
from threatstream.monitoring.context import (
    as_datetime,
    context_value,
    describe_seconds,
    error_line,
    int_or_none,
    ui_links,
)


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
            return bool(context_value(context, "dag_run", "state") != "failed")
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
        dag_id = context_value(context, "dag_run", "dag_id") or context_value(context, "dag", "dag_id")
        # A task or DAG context holds a DagRun; the triggerer's deadline context a REST-style
        # DAGRunResponse dict, whose run id key is ``dag_run_id``.
        run_id = (
            context_value(context, "dag_run", "run_id")
            or context_value(context, "dag_run", "dag_run_id")
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
        try_number = int_or_none(getattr(ti, "try_number", None))
        max_tries = int_or_none(getattr(ti, "max_tries", None))
        map_index = int_or_none(getattr(ti, "map_index", None))
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
        state = context_value(context, "dag_run", "state")
        queued_at = as_datetime(context_value(context, "dag_run", "queued_at"))
        end_date = as_datetime(context_value(context, "dag_run", "end_date"))
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
