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
    tries: dict[str, int] = field(default_factory=dict)

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
        rows: list[XComModel] = list(
            session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value"))
        )
        results = {row.task_id: XComModel.deserialize_value(row) for row in rows}
        tries = {ti.task_id: ti.try_number for ti in run.get_task_instances(session=session)}
        return RunOutcome(
            dag_id=dag_id, run_id=run.run_id, state=str(run.state), results=results, tries=tries
        )


def clear_and_rerun(dag: Any, run_id: str, task_id: str) -> RunOutcome:
    """Clear ``task_id`` and its downstream tasks in an existing run and run them again.

    What "Clear -> with downstream" in the Airflow UI does, followed by the scheduler
    running the cleared tasks, executed in-process the way ``dag.test()`` runs tasks.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    targets = {task_id, *dag.get_task(task_id).get_flat_relative_ids(upstream=False)}
    with create_session() as session:
        dag_run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
        ).one()
        dag_run.dag = scheduler_dag
        cleared = [ti for ti in dag_run.get_task_instances(session=session) if ti.task_id in targets]
        clear_task_instances(cleared, session, dag_run_state=DagRunState.RUNNING)
        session.commit()
        while dag_run.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = dag_run.update_state(session=session)
            for ti in schedulable:
                ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            for ti in schedulable:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id])
    outcome = run_outcome(dag.dag_id, run_id)
    assert outcome is not None
    return outcome
