"""Feed health from Airflow's own metadata database: every registered source's last DAG runs.

Read with Airflow's ORM session (the api-server's metadata database), never a second store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from threatstream.sources.registry import all_sources

#: Runs reported per source by default, and at most.
DEFAULT_RUNS = 5
MAX_RUNS = 50


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def run_summary(run: Any) -> dict[str, Any]:
    """One DAG run: id, state, logical date, start, end, duration in seconds."""
    start, end = run.start_date, run.end_date
    return {
        "run_id": run.run_id,
        "run_type": str(getattr(run.run_type, "value", run.run_type)),
        "state": str(getattr(run.state, "value", run.state)) if run.state is not None else None,
        "logical_date": _iso(run.logical_date),
        "run_after": _iso(getattr(run, "run_after", None)),
        "start_date": _iso(start),
        "end_date": _iso(end),
        "duration_seconds": (end - start).total_seconds() if start and end else None,
    }


def feed_health(runs: int = DEFAULT_RUNS, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every registered source (registry order): its DAG, whether it is paused, its last
    ``runs`` runs (newest first) and its freshness (the last successful run's end and age)."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
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
            success = session.scalar(
                select(DagRun)
                .where(DagRun.dag_id == spec.dag_id, DagRun.state == DagRunState.SUCCESS)
                .order_by(DagRun.end_date.desc())
                .limit(1)
            )
            last_success = success.end_date if success is not None else None
            feeds.append(
                {
                    "source": spec.name,
                    "title": spec.title,
                    "dag_id": spec.dag_id,
                    "schedule": spec.schedule,
                    "dag_registered": dag is not None,
                    "is_paused": dag.is_paused if dag is not None else None,
                    "last_success": _iso(last_success),
                    "age_seconds": (moment - last_success).total_seconds() if last_success else None,
                    "runs": [run_summary(run) for run in recent],
                }
            )
    return feeds
