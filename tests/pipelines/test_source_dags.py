"""Behaviour every source's DAG shares: idempotent reruns, red runs on bad credentials."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatstream.sources import all_sources
from threatstream_dev.cosmos_emulator import CosmosEmulator
from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

SOURCES = tuple(spec.name for spec in all_sources())  # the built-in ones and every list spec
#: Sources whose feed checks a key (the others are public downloads).
KEYED = tuple(source for source in SOURCES if source in TEST_KEYS)
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
#: Which tasks run again when one is cleared with its downstream tasks.
RERUN = {"fetch": {"fetch", "validate", "upsert"}, "validate": {"validate", "upsert"}, "upsert": {"upsert"}}


@pytest.mark.parametrize("source", SOURCES)
def test_reruns_leave_the_container_identical(
    source: str, run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    dag_id = f"threatstream_{source}"
    assert run_dag(dag_id, LOGICAL_DATE).succeeded
    first = stored_documents()
    assert first
    assert len({d["id"] for d in first}) == len(first)

    assert run_dag(dag_id, LOGICAL_DATE).succeeded  # the same logical date again
    assert stored_documents() == first

    previous = run_dag(dag_id, LOGICAL_DATE, rerun_from="upsert")
    for task_id in ("fetch", "validate", "upsert"):  # "Clear" each task, with downstream, and rerun
        requests_before = len(feed_connections.requests(source))
        rerun = run_dag(dag_id, LOGICAL_DATE, rerun_from=task_id)
        assert rerun.succeeded, task_id
        assert {t for t in rerun.tries if rerun.tries[t] > previous.tries[t]} == RERUN[task_id]
        assert (len(feed_connections.requests(source)) > requests_before) == (task_id == "fetch")
        assert rerun.results["upsert"]["written"] == len(first)
        assert stored_documents() == first, task_id
        previous = rerun


@pytest.mark.parametrize("source", KEYED)
def test_rejected_credentials_make_the_run_fail_without_retries(
    source: str,
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    feed_connections: FeedReplayServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_THREATSTREAM_{source.upper()}", feed_connections.connection_json(source, key="revoked")
    )
    outcome = run_dag(f"threatstream_{source}", LOGICAL_DATE)
    assert outcome.state == "failed"
    assert "fetch" not in outcome.results
    assert outcome.tries["fetch"] == 1
    assert len(feed_connections.requests(source)) == 1
    assert stored_documents() == []


@pytest.mark.parametrize("source", KEYED)
def test_keys_never_reach_logs_xcom_or_files(
    source: str,
    run_dag: RunDag,
    feed_connections: FeedReplayServer,
    cosmos_server: CosmosEmulator,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = run_dag(f"threatstream_{source}", LOGICAL_DATE)
    assert outcome.succeeded
    captured = capfd.readouterr()
    batch = Path(outcome.results["validate"]["valid_uri"].removeprefix("file://")).parent
    haystacks = {
        "logs": captured.out + captured.err + caplog.text,
        "xcom": json.dumps(outcome.results),
        "files": "".join(p.read_text(errors="replace") for p in batch.rglob("*") if p.is_file()),
    }
    assert "Stored page 1" in haystacks["logs"]  # the task logs were captured
    for secret in (TEST_KEYS[source], cosmos_server.key):
        for where, text in haystacks.items():
            assert secret not in text, f"key found in {where}"
