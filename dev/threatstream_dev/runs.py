"""Read back what a DAG run did: its state and each task's returned batch metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
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

    @property
    def stages(self) -> tuple[Any, Any, Any]:
        """The ``fetch``, ``validate`` and ``upsert`` results of a source DAG's run."""
        return self.results["fetch"], self.results["validate"], self.results["upsert"]

    @property
    def counts(self) -> dict[str, Any]:
        """What a source DAG's run did, stage by stage: the numbers each source's test states."""
        fetch, validate, upsert = self.stages
        return {
            "records": fetch["records"],
            "requests": fetch["requests"],
            "valid": validate["valid"],
            "rejected": validate["rejected"],
            "duplicates": validate["duplicates"],
            "expired": validate["expired"],
            "reasons": validate["reasons"],
            "written": upsert["written"],
        }


#: A test fixture that runs a DAG for a logical date (optionally clearing one task).
RunDag = Callable[..., RunOutcome]
#: A test fixture that returns every stored document, sorted by id.
StoredDocuments = Callable[[], list[dict[str, Any]]]


def load_dagbag(dag_folder: str | Path) -> Any:
    """Parse a DAG folder as the dag-processor does, on any Airflow 3 version."""
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 / 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[attr-defined,no-redef,unused-ignore]
    # The dag-processor has Airflow's serializer loaded before it parses a file; on 3.0 its
    # first import warns from inside Airflow, which would be charged to the first DAG file.
    import airflow.serialization.serialized_objects  # noqa: F401

    return DagBag(dag_folder=str(dag_folder))


def activate_assets(dag: Any) -> None:
    """Store ``dag`` and activate its Assets, as the dag-processor does before a run.

    ``dag.test()`` on Airflow 3.0 runs a DAG that was never written to the database, so the
    Assets of its outlets stay inactive and every task with an outlet fails to start; from
    3.1 on, ``dag.test()`` writes the DAG itself.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DAG as SchedulerDAG
    from airflow.serialization.serialized_objects import SerializedDAG  # type: ignore[attr-defined,unused-ignore]

    DagBundlesManager().sync_bundles_to_db()  # type: ignore[no-untyped-call]
    # The scheduler's DAG class, as Airflow 3.0's dag.test() builds it (3.0 API).
    scheduler_dag = SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(dag))  # type: ignore[attr-defined,unused-ignore]
    SchedulerDAG.bulk_write_to_db("dags-folder", None, [scheduler_dag])


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


def run_dag_file(
    dags_folder: str, dag_id: str, logical_date: datetime, run_conf: dict[str, Any] | None = None
) -> RunOutcome:
    """Parse ``dags_folder`` and run ``dag_id`` for ``logical_date`` with ``dag.test()``."""
    from threatstream.compat import airflow_version

    dag = load_dagbag(dags_folder).dags[dag_id]
    if airflow_version() < (3, 1):
        activate_assets(dag)
    dag_run = dag.test(logical_date=logical_date, run_conf=run_conf)
    outcome = run_outcome(dag_id, dag_run.run_id)
    assert outcome is not None
    return outcome


def _drive(dag: Any, dag_run: Any, session: Any) -> None:
    """Run a DAG run's schedulable tasks in-process until it finishes, as ``dag.test()`` does."""
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.state import DagRunState, TaskInstanceState

    while dag_run.state == DagRunState.RUNNING:
        session.expire_all()
        schedulable, _ = dag_run.update_state(session=session)
        for ti in schedulable:
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        for ti in schedulable:
            _run_task(ti=ti, task=dag.task_dict[ti.task_id])


def _scheduler_dag(dag: Any) -> Any:
    """The DAG as the scheduler sees it, without deadlines and DAG callbacks.

    Both are resolved by the scheduler and the DAG processor from rows they write; runs
    driven in-process skip them, as ``dag.test()`` must on Airflow 3.3.2 (``ThreatStreamDAG.test``).
    """
    from airflow.serialization.serialized_objects import DagSerialization

    saved = dag.deadline, dag.has_on_failure_callback, dag.has_on_success_callback
    dag.deadline, dag.has_on_failure_callback, dag.has_on_success_callback = None, False, False
    try:
        return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    finally:
        dag.deadline, dag.has_on_failure_callback, dag.has_on_success_callback = saved


def clear_and_rerun(dag: Any, run_id: str, task_id: str) -> RunOutcome:
    """Clear ``task_id`` and its downstream tasks in an existing run and run them again.

    What "Clear -> with downstream" in the Airflow UI does, followed by the scheduler
    running the cleared tasks, executed in-process the way ``dag.test()`` runs tasks.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    targets = {task_id, *dag.get_task(task_id).get_flat_relative_ids(upstream=False)}
    with create_session() as session:
        dag_run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
        ).one()
        dag_run.dag = _scheduler_dag(dag)
        cleared = [ti for ti in dag_run.get_task_instances(session=session) if ti.task_id in targets]
        clear_task_instances(cleared, session, dag_run_state=DagRunState.RUNNING)
        session.commit()
        _drive(dag, dag_run, session)
    outcome = run_outcome(dag.dag_id, run_id)
    assert outcome is not None
    return outcome


def sync_dags_to_db() -> None:
    """Parse the DAG bundles and store the serialized DAGs, as the dag-processor would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    manager = DagBundlesManager()  # type: ignore[no-untyped-call]
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def backfill(dag: Any, from_date: datetime, to_date: datetime) -> list[RunOutcome]:
    """Create a backfill as ``airflow backfill create`` does, then run its DAG runs in order.

    The runs are created by Airflow's own backfill code from the DAG's timetable; instead
    of waiting for a scheduler they are executed in-process, oldest first.
    """
    from airflow.models.backfill import _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    sync_dags_to_db()
    created = _create_backfill(
        dag_id=dag.dag_id,
        from_date=from_date,
        to_date=to_date,
        max_active_runs=1,
        reverse=False,
        dag_run_conf=None,
        triggering_user_name="threatstream-tests",
    )
    with create_session() as session:
        run_ids = list(
            session.scalars(
                select(DagRun.run_id).where(DagRun.backfill_id == created.id).order_by(DagRun.logical_date)
            )
        )
    for run_id in run_ids:
        with create_session() as session:
            dag_run = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
            ).one()
            dag_run.dag = _scheduler_dag(dag)
            dag_run.state = DagRunState.RUNNING
            session.commit()
            _drive(dag, dag_run, session)
    return [outcome for run_id in run_ids if (outcome := run_outcome(dag.dag_id, run_id)) is not None]
