"""The ThreatFox DAG end to end: typed IOCs, the ``days`` param, a refused key, ``no_result``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_threatfox"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 20, tzinfo=UTC)


def test_end_to_end(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    assert outcome.counts == {
        "records": 30,
        "requests": 1,
        "valid": 25,
        "rejected": 4,
        "duplicates": 1,
        "expired": 0,
        "reasons": {"non_global_ip": 1, "invalid_hash": 1, "unknown_type": 1, "invalid_ip": 1},
        "written": 25,
    }
    (request,) = feed_connections.requests("threatfox")
    assert request.body == {"query": ["get_iocs"], "days": ["1"]}  # the DAG param's default

    documents = {d["indicator_value"]: d for d in stored_documents()}
    assert Counter(d["indicator_type"] for d in documents.values()) == {
        "IPv4": 7,
        "IPv6": 2,
        "domain": 5,
        "URL": 5,
        "FileHash-MD5": 1,
        "FileHash-SHA1": 2,
        "FileHash-SHA256": 3,
    }
    mirai = documents["2a02:cf40:1::5"]
    assert mirai["id"].startswith("threatfox:IPv6:")
    assert mirai["raw_metadata"]["port"] == 40669
    assert mirai["confidence"] == 75
    assert mirai["tags"] == ["Mirai", "mirai"]
    assert mirai["first_seen"] == "2026-11-28T08:55:41Z"
    assert mirai["tlp"] == "clear"
    assert mirai["ttl"] == 30 * 86400


def test_no_result_is_an_empty_green_run(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    feed_connections.use_scenario("threatfox", "no_result")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    assert (outcome.results["fetch"]["records"], outcome.results["upsert"]["written"]) == (0, 0)
    assert stored_documents() == []


def test_a_key_refused_in_the_body_fails_the_run_without_retries(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    feed_connections.use_scenario("threatfox", "auth_in_body")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1
    assert len(feed_connections.requests("threatfox")) == 1
    assert stored_documents() == []
