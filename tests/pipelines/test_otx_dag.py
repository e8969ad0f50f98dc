"""The OTX DAG end to end: windows, paging, expiry, link safety."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_otx"
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_end_to_end(run_dag: RunDag, stored_documents: StoredDocuments) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    fetch, validate, upsert = outcome.stages
    assert (fetch["data_interval_start"], fetch["data_interval_end"]) == (
        "2026-11-28T09:00:00Z",
        "2026-11-28T10:00:00Z",
    )
    assert len(fetch["pages"]) == 5
    assert fetch["records"] == 43
    assert validate["reasons"] == {"unknown_type": 1}  # NIDS
    assert validate["expired"] == 3
    assert (validate["valid"], upsert["written"]) == (35, 35)
    assert validate["warninglisted"] == 4
    assert validate["warninglist_hits"] == {
        "cisco_top1000": 1,
        "common-ioc-false-positive": 1,
        "google": 1,
        "public-dns-v4": 2,
        "ti-falsepositives": 1,
    }

    documents = stored_documents()
    assert len(documents) == 35
    by_value = {d["indicator_value"]: d for d in documents}
    # Benign values on the default MISP warninglists are kept, and flagged.
    assert by_value["8.8.8.8"]["warninglists"] == ["public-dns-v4"]
    assert by_value["1.1.1.1"]["warninglists"] == ["public-dns-v4"]
    assert by_value["google.com"]["warninglists"] == ["cisco_top1000", "google"]
    assert by_value["b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c"]["warninglists"] == [
        "common-ioc-false-positive",
        "ti-falsepositives",
    ]
    # Near misses are not: the address next to a listed one, a subdomain the exact list leaves out.
    assert "warninglists" not in by_value["8.8.8.9"]
    assert "warninglists" not in by_value["update-check.microsoft.com"]
    assert sum("warninglists" in d for d in documents) == 4
    assert by_value["2a0d:5600:24::/48"]["indicator_type"] == "CIDR"
    assert "5.188.10.197" not in by_value  # inactive
    assert "news-portal.example" not in by_value  # expired
    expiring = by_value["172.67.177.165"]
    assert expiring["valid_until"].startswith("2099-")
    assert expiring["ttl"] == 90 * 86400
    assert {d["tlp"] for d in documents} == {"clear", "green", "amber"}
    assert all(d["ingested_at"] == "2026-11-28T10:00:00Z" for d in documents)
    assert {d["indicator_type"] for d in documents} >= {"YARA", "CVE", "IPv6", "BitcoinAddress"} - {
        "BitcoinAddress"
    }


def test_consecutive_hourly_runs_request_their_windows_and_leave_no_duplicates(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    for hour in range(3):
        assert run_dag(DAG_ID, LOGICAL_DATE + timedelta(hours=hour)).succeeded
    first_pages = [
        r
        for r in feed_connections.requests("otx")
        if r.path == "/api/v1/pulses/subscribed" and "page" not in r.query
    ]
    assert [r.query["modified_since"] for r in first_pages] == [
        ["2026-11-28T08:30:00"],  # window 09:00-10:00 minus the 30 minute overlap
        ["2026-11-28T09:30:00"],
        ["2026-11-28T10:30:00"],
    ]
    documents = stored_documents()
    assert len(documents) == 35
    assert len({d["id"] for d in documents}) == 35
    assert {d["ingested_at"] for d in documents} == {"2026-11-28T12:00:00Z"}  # the latest window wrote last


def test_a_next_link_to_another_host_fails_the_run(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    feed_connections.use_scenario("otx", "foreign_next")
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1  # refused links are not retried
    assert stored_documents() == []
