"""The TAXII DAG end to end against the local TAXII 2.1 server, over a real hourly data interval."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments, backfill, load_dagbag

pytestmark = pytest.mark.dagrun

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "threatstream_taxii"
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # a manual run: the interval 09:00-10:00


def test_end_to_end(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    fetch, validate, upsert = outcome.stages
    assert fetch["data_interval_start"] == "2026-11-28T09:00:00Z"
    assert (fetch["records"], len(fetch["pages"]), fetch["requests"]) == (25, 3, 5)
    assert (validate["valid"], validate["rejected"], validate["expired"]) == (20, 3, 2)
    assert validate["reasons"] == {"unsupported_pattern": 3}
    assert upsert["written"] == 20
    added_after = {
        r.query["added_after"][0] for r in feed_connections.requests("taxii") if "added_after" in r.query
    }
    assert "2026-11-28T09:00:00.000000Z" in added_after

    documents = {d["indicator_value"]: d for d in stored_documents()}
    assert len(documents) == 20
    c2 = documents["45.137.21.9"]
    assert c2["id"].startswith("taxii:IPv4:")
    assert (c2["tlp"], c2["confidence"], c2["tags"]) == ("amber", 85, ["c2", "qakbot"])
    assert c2["valid_until"] == "2028-02-28T00:00:00Z"
    assert c2["raw_metadata"]["collection"] == "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    assert documents["91.243.44.0/24"]["indicator_type"] == "CIDR"
    assert "cdn-telemetry-sync.org" not in documents  # revoked


def test_an_unreadable_paging_chain_fails_the_run_at_once(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    feed_connections.use_scenario("taxii", "stuck")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1
    assert stored_documents() == []


def test_backfill_asks_each_window_for_what_was_added_after_its_start(
    airflow_db: Path,
    cosmos_database: str,
    stored_documents: StoredDocuments,
    feed_connections: FeedReplayServer,
) -> None:
    dag = load_dagbag(DAGS_FOLDER).dags[DAG_ID]
    outcomes = backfill(
        dag, datetime(2026, 11, 28, 8, 0, tzinfo=UTC), datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    )
    assert [o.state for o in outcomes] == ["success", "success"]
    # 08:00-09:00: the first page was added after 09:00, so it is left to the next window.
    assert [o.results["fetch"]["records"] for o in outcomes] == [0, 25]
    first_requests = [
        r.query["added_after"][0]
        for r in feed_connections.requests("taxii")
        if "next" not in r.query and "limit" in r.query
    ]
    assert first_requests[:2] == ["2026-11-28T08:00:00.000000Z", "2026-11-28T09:00:00.000000Z"]
    assert len(stored_documents()) == 20
