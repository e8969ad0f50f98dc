"""The Feodo Tracker DAG end to end: a keyless snapshot feed through the real servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_feodo"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 10, tzinfo=UTC)


def test_end_to_end(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    assert outcome.counts == {
        "records": 19,
        "requests": 1,
        "valid": 16,
        "rejected": 2,
        "duplicates": 1,
        "expired": 0,
        "reasons": {"invalid_ip": 1, "non_global_ip": 1},
        "written": 16,
    }

    (request,) = feed_connections.requests("feodo")
    assert request.path == "/downloads/ipblocklist.json"
    assert "Auth-Key" not in request.headers  # no key configured: none sent

    documents = {d["indicator_value"]: d for d in stored_documents()}
    assert len(documents) == 16
    assert documents["45.61.136.59"]["raw_metadata"]["original_value"] == "45.61.136[.]59"  # refanged
    qakbot = documents["50.16.16.211"]
    assert qakbot["id"].startswith("feodo:IPv4:")
    assert qakbot["tags"] == ["QakBot"]
    assert qakbot["tlp"] == "clear"
    assert qakbot["last_seen"] == "2026-11-28T00:00:00Z"
    assert qakbot["ttl"] == 7 * 86400
    assert qakbot["raw_metadata"]["port"] == 443
    assert qakbot["raw_metadata"]["as_number"] == 14618
    assert documents["2a01:4f8:222:1e8c::2"]["indicator_type"] == "IPv6"
    assert documents["138.197.14.67"]["first_seen"] is None  # absent in the feed


def test_a_configured_key_is_sent_and_an_html_page_fails_the_run(
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    feed_connections: FeedReplayServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_FEODO", feed_connections.connection_json("feodo", key="k"))
    feed_connections.use_scenario("feodo", "html_error")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1  # a page of the wrong shape fails at once
    assert feed_connections.requests("feodo")[0].headers["Auth-Key"] == "<redacted>"
    assert stored_documents() == []
