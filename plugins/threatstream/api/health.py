"""Feed health from Airflow's own metadata database: every registered source's last DAG runs.

Read with Airflow's ORM session (the api-server's metadata database), never a second store:
the runs and their states from ``dag_run``, the failed tasks from ``task_instance``, and each
run's volumes and quarantine reasons from the summary its ``upsert`` task attaches to the
source's asset event (``extra["summary"]`` and ``extra["reasons"]``).

Freshness compares the age of the last successful run with the schedule's period plus the
DAG's freshness deadline (``[threatstream] <source>_deadline_minutes``, by default one
period): data older than that means a run that should have finished has not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from threatstream.pipelines.defaults import schedule_period
from threatstream.pipelines.sources import source_deadline
from threatstream.sources.base import SourceSpec
from threatstream.sources.registry import all_sources

#: Runs reported per source by default, and at most.
DEFAULT_RUNS = 5
MAX_RUNS = 50
#: The run summary's counts reported per run (``RunSummary.counts()`` in the asset event).
COUNT_FIELDS = ("fetched", "valid", "quarantined", "expired", "duplicates", "written", "failed")
#: Freshness of a feed: its last success is within period + deadline, older, absent, or paused.
FRESHNESS = ("fresh", "stale", "never", "paused")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _seconds(span: timedelta | None) -> float | None:
    return span.total_seconds() if span is not None else None


def run_summary(
    run: Any, event_extra: Mapping[str, Any] | None = None, failed_tasks: Iterable[str] = ()
) -> dict[str, Any]:
    """One DAG run: id, state, times, duration; its counts and quarantine reasons when its
    upsert recorded them (``event_extra``, else None); the tasks that failed in it."""
    start, end = run.start_date, run.end_date
    summary = (event_extra or {}).get("summary")
    counts = {name: summary.get(name) for name in COUNT_FIELDS} if isinstance(summary, Mapping) else None
    reasons = (event_extra or {}).get("reasons")
    return {
        "run_id": run.run_id,
        "run_type": str(getattr(run.run_type, "value", run.run_type)),
        "state": str(getattr(run.state, "value", run.state)) if run.state is not None else None,
        "logical_date": _iso(run.logical_date),
        "run_after": _iso(getattr(run, "run_after", None)),
        "start_date": _iso(start),
        "end_date": _iso(end),
        "duration_seconds": (end - start).total_seconds() if start and end else None,
        "counts": counts,
        "reasons": dict(reasons) if isinstance(reasons, Mapping) else None,
        "failed_tasks": sorted(failed_tasks),
    }


def freshness(*, is_paused: bool | None, age: timedelta | None, stale_after: timedelta) -> str:
    """One of :data:`FRESHNESS`: paused wins, then no success yet, then age against ``stale_after``."""
    if is_paused:
        return "paused"
    if age is None:
        return "never"
    return "fresh" if age <= stale_after else "stale"


def _cron(spec: SourceSpec, dag: Any) -> str:
    """The DAG's cron as deployed (its timetable summary), else the source's default schedule."""
    from croniter import croniter

    summary = getattr(dag, "timetable_summary", None) if dag is not None else None
    return summary if isinstance(summary, str) and croniter.is_valid(summary) else spec.schedule


def feed_health(runs: int = DEFAULT_RUNS, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every registered source (registry order): its DAG, whether it is paused, its freshness
    and its last ``runs`` runs (newest first) with their counts, reasons and failed tasks."""
    from airflow.models.asset import AssetEvent
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    moment = now or datetime.now(UTC)
    order = DagRun.run_after if hasattr(DagRun, "run_after") else DagRun.logical_date
    feeds: list[dict[str, Any]] = []
    with create_session() as session:
        for spec in all_sources():
            dag = session.scalar(select(DagModel).where(DagModel.dag_id == spec.dag_id))
            recent = session.scalars(
                select(DagRun).where(DagRun.dag_id == spec.dag_id).order_by(order.desc()).limit(runs)
            ).all()
            run_ids = [run.run_id for run in recent]
            extras: dict[str, Mapping[str, Any]] = {}
            for event in session.scalars(
                select(AssetEvent)
                .where(AssetEvent.source_dag_id == spec.dag_id, AssetEvent.source_run_id.in_(run_ids))
                .order_by(AssetEvent.timestamp)
            ):
                if event.source_run_id is not None:  # the newest try's event wins
                    extras[event.source_run_id] = event.extra or {}
            failed: dict[str, list[str]] = {}
            for run_id, task_id in session.execute(
                select(TaskInstance.run_id, TaskInstance.task_id).where(
                    TaskInstance.dag_id == spec.dag_id,
                    TaskInstance.run_id.in_(run_ids),
                    TaskInstance.state == TaskInstanceState.FAILED,
                )
            ):
                failed.setdefault(run_id, []).append(task_id)
            success = session.scalar(
                select(DagRun)
                .where(DagRun.dag_id == spec.dag_id, DagRun.state == DagRunState.SUCCESS)
                .order_by(DagRun.end_date.desc())
                .limit(1)
            )
            last_success = success.end_date if success is not None else None
            age = moment - last_success if last_success is not None else None
            cron = _cron(spec, dag)
            period = schedule_period(cron)
            deadline = source_deadline(spec, cron)
            stale_after = period + (deadline or period)
            is_paused = dag.is_paused if dag is not None else None
            feeds.append(
                {
                    "source": spec.name,
                    "title": spec.title,
                    "dag_id": spec.dag_id,
                    "schedule": cron,
                    "dag_registered": dag is not None,
                    "is_paused": is_paused,
                    "last_success": _iso(last_success),
                    "age_seconds": _seconds(age),
                    "deadline_seconds": _seconds(deadline),
                    "stale_after_seconds": stale_after.total_seconds(),
                    "freshness": freshness(is_paused=is_paused, age=age, stale_after=stale_after),
                    "runs": [
                        run_summary(run, extras.get(run.run_id), failed.get(run.run_id, ())) for run in recent
                    ],
                }
            )
    return feeds
