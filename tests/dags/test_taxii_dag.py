"""The TAXII DAG end to end against the local TAXII 2.1 server, over a real hourly data interval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_taxii"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a manual run: the interval 11:00-12:00


def test_end_to_end(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    fetch, validate, upsert = (outcome.results[t] for t in ("fetch", "validate", "upsert"))
    assert fetch["data_interval_start"] == "2026-11-28T11:00:00Z"
    assert (fetch["records"], len(fetch["pages"]), fetch["requests"]) == (25, 3, 5)
    assert (validate["valid"], validate["rejected"], validate["expired"]) == (19, 4, 2)
    assert validate["reasons"] == {"unsupported_pattern": 3, "invalid_url": 1}
    assert upsert["written"] == 19
    added_after = {
        r.query["added_after"][0] for r in feed_connections.requests("taxii") if "added_after" in r.query
    }
    assert "2026-11-28T11:00:00.000000Z" in added_after

    documents = {d["indicator_value"]: d for d in stored_documents()}
    assert len(documents) == 19
    c2 = documents["45.137.21.9"]
    assert c2["id"].startswith("taxii:IPv4:")
    assert (c2["tlp"], c2["confidence"], c2["tags"]) == ("amber", 85, ["c2", "qakbot"])
    assert c2["valid_until"] == "2027-02-28T00:00:00Z"
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
