"""Run the real DAG files with ``dag.test()`` against the local servers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from threatstream.hooks.cosmos import IndicatorStoreHook
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunOutcome, run_outcome

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"

RunDag = Callable[..., RunOutcome]


@pytest.fixture
def run_dag(
    airflow_db: Path, cosmos_database: str, feed_connections: FeedReplayServer
) -> RunDag:
    """Run a DAG for a logical date (optionally only some tasks and their downstream)."""

    def run(dag_id: str, logical_date: datetime, rerun_from: Sequence[str] | None = None) -> RunOutcome:
        dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags[dag_id]
        if rerun_from:
            # What "Clear task, with downstream" in the UI does: rerun those tasks only.
            dag = dag.partial_subset(task_ids=list(rerun_from), include_downstream=True, include_upstream=False)
        dag_run = dag.test(logical_date=logical_date)
        outcome = run_outcome(dag_id, dag_run.run_id)
        assert outcome is not None
        return outcome

    return run


def stored_documents(*, system_fields: bool = False) -> list[dict[str, object]]:
    """Every document in the test container, sorted by id, without Cosmos system fields."""
    documents = IndicatorStoreHook().query("SELECT * FROM c")
    if not system_fields:
        documents = ({k: v for k, v in d.items() if not k.startswith("_")} for d in documents)
    return sorted(documents, key=lambda d: str(d["id"]))
