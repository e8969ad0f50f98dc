"""Read back what a DAG run did: its state and each task's returned batch metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunOutcome:
    """State and XCom return values of one DAG run."""

    dag_id: str
    run_id: str
    state: str
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


def run_outcome(dag_id: str, run_id: str | None = None) -> RunOutcome | None:
    """The outcome of run ``run_id`` of ``dag_id`` (the latest run when None); None if absent."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == dag_id)
        query = query.where(DagRun.run_id == run_id) if run_id else query.order_by(DagRun.id.desc())
        run = session.scalars(query.limit(1)).first()
        if run is None:
            return None
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value"))
        results = {row.task_id: XComModel.deserialize_value(row) for row in rows}
        return RunOutcome(dag_id=dag_id, run_id=run.run_id, state=str(run.state), results=results)
