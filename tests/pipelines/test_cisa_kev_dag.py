"""The CISA KEV DAG end to end: the whole catalogue each run; a truncated file is a red run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_cisa_kev"
LOGICAL_DATE = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)


def test_end_to_end(run_dag: RunDag, stored_documents: StoredDocuments) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    assert outcome.counts == {
        "records": 24,
        "requests": 1,
        "valid": 21,
        "rejected": 2,
        "duplicates": 1,
        "expired": 0,
        "reasons": {"invalid_cve": 1, "empty": 1},
        "written": 21,
    }
    assert outcome.results["fetch"]["pages"][0]["context"]["catalogVersion"] == "2026.11.27"

    documents = {d["indicator_value"]: d for d in stored_documents()}
    assert len(documents) == 21
    log4shell = documents["CVE-2021-44228"]
    assert log4shell["id"].startswith("cisa_kev:CVE:")
    assert log4shell["first_seen"] == "2021-12-10T00:00:00Z"
    assert log4shell["tags"] == ["known-exploited", "ransomware"]
    assert log4shell["raw_metadata"]["dueDate"] == "2021-12-24"
    assert log4shell["raw_metadata"]["cwes"] == ["CWE-20", "CWE-400", "CWE-502"]
    assert log4shell["ttl"] == 30 * 86400
    assert "CVE-2025-53770" in documents


def test_a_truncated_catalogue_fails_the_run_at_once(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    feed_connections.use_scenario("cisa_kev", "truncated")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1
    assert stored_documents() == []
