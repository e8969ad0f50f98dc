"""Run the real DAG files with ``dag.test()`` against the local servers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.store.indicators import IndicatorStoreHook
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import (
    RunDag,
    RunOutcome,
    StoredDocuments,
    clear_and_rerun,
    load_dagbag,
    run_dag_file,
    run_outcome,
)

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def run_dag(airflow_db: Path, cosmos_database: str, feed_connections: FeedReplayServer) -> RunDag:
    """Run a DAG for a logical date (optionally only some tasks and their downstream)."""

    def run(dag_id: str, logical_date: datetime, rerun_from: str | None = None) -> RunOutcome:
        if rerun_from:
            # Clear one task (with downstream) in the latest run and let it run again.
            dag = load_dagbag(DAGS_FOLDER).dags[dag_id]
            latest = run_outcome(dag_id)
            assert latest is not None
            return clear_and_rerun(dag, latest.run_id, rerun_from)
        return run_dag_file(str(DAGS_FOLDER), dag_id, logical_date)

    return run


@pytest.fixture
def stored_documents(cosmos_database: str) -> StoredDocuments:
    """Every document in the test container, sorted by id, without Cosmos system fields."""

    def read() -> list[dict[str, Any]]:
        documents = IndicatorStoreHook().query("SELECT * FROM c")
        return sorted(
            ({k: v for k, v in d.items() if not k.startswith("_")} for d in documents),
            key=lambda d: str(d["id"]),
        )

    return read
