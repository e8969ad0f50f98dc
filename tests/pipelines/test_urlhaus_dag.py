"""The URLhaus DAG end to end: replay server -> Airflow -> Cosmos-protocol server."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from threatstream.batches.storage import open_path
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_urlhaus"
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


def _fixture_urls() -> list[dict[str, object]]:
    from threatstream_dev.feed_replay import DEFAULT_FIXTURES_DIR

    body = json.loads((DEFAULT_FIXTURES_DIR / "urlhaus" / "urls_recent.json").read_text())
    return list(body["urls"])


def test_end_to_end(run_dag: RunDag, stored_documents: StoredDocuments) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    fetch, validate, upsert = outcome.stages

    records = _fixture_urls()
    assert fetch["records"] == len(records)
    assert fetch["requests"] == 1
    assert fetch["data_interval_end"] == "2026-11-28T10:00:00Z"
    assert validate["records"] == len(records)
    assert validate["valid"] + validate["rejected"] + validate["duplicates"] + validate["expired"] == len(
        records
    )
    assert (validate["valid"], validate["rejected"], validate["duplicates"]) == (29, 3, 2)
    assert validate["reasons"] == {"empty": 1, "invalid_url": 1, "non_global_ip": 1}
    assert (validate["warninglisted"], validate["warninglist_hits"]) == (2, {"whats-my-ip": 2})
    assert upsert["written"] == validate["valid"]
    assert upsert["failed"] == 0

    documents = stored_documents()
    assert len(documents) == validate["valid"]
    assert len({d["id"] for d in documents}) == len(documents)
    for document in documents:
        assert ID_PATTERN.match(str(document["id"]))
        assert document["source"] == "urlhaus"
        assert document["indicator_type"] == "URL"
        assert document["ingested_at"] == "2026-11-28T10:00:00Z"
        assert document["ttl"] == 90 * 86400
        assert {"url_status", "threat", "urlhaus_reference", "reporter", "date_added"} <= set(
            document["raw_metadata"]
        )
    stored = Counter(d["indicator_value"] for d in documents)
    assert set(stored.values()) == {1}
    for canonical in (
        "http://evil.example.com/Path",  # also received as HTTP://EVIL.Example.COM:80/Path
        "http://xn--bcher-kva.example/download/setup.exe",  # IDN host
        "http://files.example.net/dl%2Fpayload.exe",  # also received with %2f
        "http://phish.example.org/?id=42&lang=en#top",  # / ? #
        "https://login.example.net/secure/verify.php",  # default port dropped
        "http://[2a01:4f8:c17:1::1]:8080/bins/x86",
    ):
        assert stored[canonical] == 1, canonical
    for raw in ("HTTP://EVIL.Example.COM:80/Path", "http://bücher.example/download/setup.exe"):
        assert raw not in stored
    # What-is-my-IP services a sample queried are flagged (MISP matches a URL by its host name);
    # a host that merely ends with a listed name, or starts with one, is not.
    flagged = {d["indicator_value"]: d["warninglists"] for d in documents if "warninglists" in d}
    assert flagged == {
        "http://checkip.dyndns.org/": ["whats-my-ip"],
        "https://api.ipify.org/?format=json": ["whats-my-ip"],
    }
    assert stored["http://notipify.org/gate/ip.php"] == 1
    assert stored["https://update-check.microsoft.com.kb-patch.example/KB5034441.exe"] == 1

    quarantine = [json.loads(line) for line in open_path(validate["quarantine_uri"]).read_text().splitlines()]
    assert len(quarantine) == validate["rejected"]
    assert {entry["reason"] for entry in quarantine} >= {"empty", "invalid_url"}
    for entry in quarantine:
        assert entry["record"] in records  # the raw input is kept as received
        assert entry["message"]
        raw_url = entry["record"].get("url")
        assert not any(d["raw_metadata"].get("id") == entry["record"].get("id") for d in documents), raw_url


def test_schema_drift_fails_the_run_instead_of_an_empty_green_one(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    drifted = {"query_status": "ok", "urls": [{"link": f"http://x{i}.example.com/"} for i in range(10)]}
    feed_connections.inject_fault("urlhaus", status=200, body=json.dumps(drifted), times=1)
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.state == "failed"
    assert outcome.results["fetch"]["records"] == 10
    assert "validate" not in outcome.results
    assert outcome.tries["validate"] == 1  # schema drift is not retried
    assert stored_documents() == []


def test_a_raw_page_changed_after_fetch_fails_validate(run_dag: RunDag) -> None:
    first = run_dag(DAG_ID, LOGICAL_DATE)
    assert first.succeeded
    page = open_path(first.results["fetch"]["pages"][0]["uri"])
    page.write_bytes(page.read_bytes().replace(b"evil.example.com", b"good.example.com"))
    rerun = run_dag(DAG_ID, LOGICAL_DATE, rerun_from="validate")
    assert rerun.state == "failed"
    assert rerun.tries["validate"] == 2  # the one rerun, not retried
