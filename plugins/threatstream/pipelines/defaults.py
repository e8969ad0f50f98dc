"""What every ThreatStream DAG shares: start date, task defaults, failure alerts and deadlines.

:func:`threatstream_dag` builds each DAG (source, merged view, STIX export, maintenance)
with the package's conventions: no catchup, one run at a time, retries with doubling
backoff, the :class:`~threatstream.monitoring.notify.ThreatStreamNotifier` as the tasks' and the
DAG's failure callback, and a freshness Deadline Alert where the DAG has one (Airflow 3.1+).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from threatstream.compat import (
    DOUBLING_RETRY_BACKOFF,
    HAS_DEADLINES,
    AsyncCallback,
    DeadlineAlert,
    DeadlineReference,
    deadline_alert_options,
    notice_missing,
)
from threatstream.monitoring.notify import ThreatStreamNotifier
from threatstream.settings import settings

#: Runs are never created for dates before this one.
DEFAULT_START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def default_args() -> dict[str, Any]:
    """Task defaults; retry timing can be tuned with ``[threatstream]`` options."""
    configured = settings()
    return {
        "owner": "threatstream",
        "retries": configured.retries,
        "retry_delay": timedelta(seconds=configured.retry_delay_seconds),
        "retry_exponential_backoff": DOUBLING_RETRY_BACKOFF,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=60),
    }


def schedule_period(cron: str) -> timedelta:
    """The shortest gap between two runs of ``cron`` over the next day (its period)."""
    from croniter import croniter

    base = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; any fixed date gives the same period
    runs = croniter(cron, base)
    times: list[datetime] = [runs.get_next(datetime) for _ in range(25)]
    return min(later - earlier for earlier, later in itertools.pairwise(times))


def configured_deadline(name: str, default: timedelta | None) -> timedelta | None:
    """How long a run of ``name`` may take from being queued; None: no deadline.

    ``[threatstream] <name>_deadline_minutes`` sets one DAG, ``[threatstream]
    deadline_minutes`` every DAG; 0 disables; otherwise ``default``.
    """
    minutes = settings().deadline_minutes_for(name)
    if minutes is None:
        return default
    return timedelta(minutes=minutes) if minutes > 0 else None


def freshness_deadline(name: str, interval: timedelta | None, *, source: str | None = None) -> list[Any]:
    """The Deadline Alert of a DAG: alert when a run is not done ``interval`` after it was queued.

    Empty when ``interval`` is None, and on Airflow 3.0 (no Deadline Alerts; a notice is logged).
    """
    if interval is None:
        return []
    if not HAS_DEADLINES:
        notice_missing("Deadline Alerts (freshness deadlines)", ">= 3.1")
        return []
    return [
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=interval,
            callback=AsyncCallback(
                ThreatStreamNotifier,
                kwargs={
                    "event": "deadline_missed",
                    "source": source,
                    "details": {
                        "deadline": f"{interval.total_seconds() / 60:g} min after the run was queued"
                    },
                },
            ),
            **deadline_alert_options(f"{name}_freshness"),
        )
    ]


class ThreatStreamDAG(DAG):
    """A ThreatStream DAG; ``test()`` runs without its deadlines.

    Airflow 3.3.2's ``dag.test()`` (and so ``airflow dags test``) crashes after the tasks ran
    when the DAG has ``deadline=`` set (``'dict' object has no attribute 'hex'`` in
    ``DagRun.update_state``). Deadlines only matter to the scheduler, so a test run drops them
    for its duration and restores them after.
    """

    def test(self, *args: Any, **kwargs: Any) -> Any:
        if not hasattr(self, "deadline"):  # Airflow 3.0: no Deadline Alerts
            return super().test(*args, **kwargs)
        deadline = self.deadline
        self.deadline = None
        try:
            return super().test(*args, **kwargs)
        finally:
            self.deadline = deadline


def threatstream_dag(
    dag_id: str,
    *,
    deadline_name: str,
    deadline: timedelta | None,
    source: str | None = None,
    **dag_kwargs: Any,
) -> ThreatStreamDAG:
    """A DAG with the package's conventions, watched by a failure alert and a freshness deadline.

    :param dag_id: the DAG id.
    :param deadline_name: the ``[threatstream] <name>_deadline_minutes`` option's prefix.
    :param deadline: the default deadline (None: none unless configured).
    :param source: the source the DAG ingests, named in its alerts.
    :param dag_kwargs: further ``DAG`` arguments; explicit ones win over the conventions.
    """
    deadlines = freshness_deadline(deadline_name, configured_deadline(deadline_name, deadline), source=source)
    if deadlines:
        dag_kwargs.setdefault("deadline", deadlines)
    task_defaults = dict(dag_kwargs.get("default_args") or default_args())
    # The failed task's own alert: its log, its exception, once (Airflow calls a task's
    # on_failure_callback only after its last try); the DAG's callback then only logs.
    task_defaults.setdefault("on_failure_callback", ThreatStreamNotifier(event="task_failed", source=source))
    dag_kwargs["default_args"] = task_defaults
    dag_kwargs.setdefault(
        "on_failure_callback",
        ThreatStreamNotifier(
            event="run_failed",
            source=source,
            task_alerts=isinstance(task_defaults["on_failure_callback"], ThreatStreamNotifier),
        ),
    )
    dag_kwargs.setdefault("start_date", DEFAULT_START_DATE)
    dag_kwargs.setdefault("catchup", False)
    dag_kwargs.setdefault("max_active_runs", 1)
    dag_kwargs.setdefault("render_template_as_native_obj", True)
    return ThreatStreamDAG(dag_id=dag_id, **dag_kwargs)
