"""A connection that is not defined is a configuration error: the task fails on its first try.

Airflow's ``AirflowNotFoundException`` is retryable, so without the package's own check a
fetch would retry for minutes against a setting that cannot appear by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatstream.compat import AirflowNotFoundException
from threatstream.connections import connection_env_var, missing_connection_message
from threatstream.exceptions import ConnectionMissingError
from threatstream.feeds.hook import FeedHook
from threatstream.naming import COSMOS_CONN_ID
from threatstream.sources import get_source
from threatstream.store.indicators import IndicatorStoreHook
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import run_dag_file

FaultCase = Callable[[str, str, str], None]
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_every_hook_refuses_a_missing_connection_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(connection_env_var("threatstream_nowhere"), raising=False)
    for hook in (FeedHook(http_conn_id="threatstream_nowhere"), IndicatorStoreHook("threatstream_nowhere")):
        with pytest.raises(ConnectionMissingError) as raised:
            hook.get_connection("threatstream_nowhere")
        message = str(raised.value)
        assert message == missing_connection_message("threatstream_nowhere")
        assert "'threatstream_nowhere'" in message
        assert "AIRFLOW_CONN_THREATSTREAM_NOWHERE" in message
        assert raised.value.__cause__ is None  # not chained to Airflow's retryable exception
        assert not isinstance(raised.value, AirflowNotFoundException)


@pytest.mark.dagrun
@pytest.mark.replay
@pytest.mark.parametrize(
    ("missing", "failed_task"), [("feodo", "fetch"), ("cosmos", "upsert")], ids=["feed", "store"]
)
def test_a_run_without_its_connection_fails_on_the_first_try(
    missing: str,
    failed_task: str,
    airflow_db: Path,
    cosmos_database: str,
    feed_connections: FeedReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    fault_case: FaultCase,
) -> None:
    conn_id = COSMOS_CONN_ID if missing == "cosmos" else get_source(missing).conn_id
    monkeypatch.delenv(connection_env_var(conn_id))
    caplog.set_level(logging.ERROR)
    outcome = run_dag_file(str(DAGS_FOLDER), get_source("feodo").dag_id, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries[failed_task] == 1
    captured = capfd.readouterr()
    task_log = captured.out + captured.err + caplog.text
    assert "ConnectionMissingError" in task_log
    assert f"Airflow connection {conn_id!r} is not defined" in task_log
    fault_case(
        f"connection {conn_id} not defined",
        f"{failed_task} red on its first try, naming the connection and where to set it",
        f"failed on try {outcome.tries[failed_task]}: ConnectionMissingError names {conn_id!r}",
    )
