"""The AbuseIPDB DAG end to end: IPv6 typing, quota handling, snapshot semantics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_abuseipdb"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_end_to_end(run_dag: RunDag, stored_documents: StoredDocuments) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    fetch, validate, upsert = outcome.stages
    assert fetch["source_metadata"]["rate_limit_remaining"] == "4"
    assert fetch["source_metadata"]["generated_at"]
    assert (fetch["records"], validate["valid"], upsert["written"]) == (25, 25, 25)

    documents = stored_documents()
    assert len(documents) == 25
    for document in documents:
        assert document["indicator_type"] == ("IPv6" if ":" in document["indicator_value"] else "IPv4")
        assert document["ttl"] == 7 * 86400
        assert 0 <= document["confidence"] <= 100
        assert "countryCode" in document["raw_metadata"]
    assert sum(d["indicator_type"] == "IPv6" for d in documents) == 6
    assert any(d["raw_metadata"]["countryCode"] is None for d in documents)


def test_exhausted_quota_fails_the_run_without_spending_retries(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    feed_connections.use_scenario("abuseipdb", "rate_limited")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1
    assert len(feed_connections.requests("abuseipdb")) == 1
    assert stored_documents() == []
