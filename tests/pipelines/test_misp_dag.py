"""The MISP feed DAG end to end: the CIRCL OSINT fixture, ingested incrementally by manifest timestamp."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_misp_circl"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
FEED = "/doc/misp/feed-osint/"
CHANGED_EVENT = "5e8f3c2a-1b4d-4f6e-9a2c-0d1e2f3a4b5c"
FIRST, SECOND, THIRD = (datetime(2026, 12, 2, hour, 15, tzinfo=UTC) for hour in (0, 6, 12))


@pytest.fixture
def no_earlier_runs(airflow_db: Path) -> Iterator[None]:
    """The feed's bookmark comes from its earlier runs: each test starts without any."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    def forget() -> None:
        with create_session() as session:
            session.execute(delete(XComModel).where(XComModel.dag_id == DAG_ID))
            for run in session.query(DagRun).filter(DagRun.dag_id == DAG_ID):
                session.delete(run)

    forget()
    yield
    forget()


def _paths(replay: FeedReplayServer) -> list[str]:
    return [r.path.removeprefix(FEED) for r in replay.requests("misp_circl")]


def test_ingests_new_events_then_only_what_changed(
    no_earlier_runs: None,
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    feed_connections: FeedReplayServer,
) -> None:
    first = run_dag(DAG_ID, FIRST)
    assert first.succeeded
    assert first.counts == {
        "records": 26,
        "requests": 5,
        "valid": 22,
        "rejected": 4,
        "duplicates": 0,
        "expired": 0,
        "reasons": {"deleted": 2, "unsupported_type": 1, "invalid_ip": 1},
        "written": 22,
    }
    assert first.results["fetch"]["source_metadata"]["new_events"] == 4
    assert first.results["fetch"]["up_to_date"] is False
    documents = {d["indicator_value"]: d for d in stored_documents()}
    c2 = documents["185.244.25.112"]
    assert c2["id"].startswith("misp_circl:IPv4:")
    assert (c2["tlp"], c2["raw_metadata"]["port"]) == ("clear", "8080")
    assert (c2["first_seen"], c2["last_seen"]) == ("2025-11-27T08:00:00Z", "2025-11-28T06:30:00Z")
    assert c2["raw_metadata"]["event_uuid"] == CHANGED_EVENT
    assert documents["45.153.241.88"]["tlp"] == "amber"  # the attribute's own tag
    assert documents["91.215.85.147"]["raw_metadata"]["domain"] == "invoice-docs-secure.com"
    assert documents["9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"]["raw_metadata"]["filename"] == "invoice.js"
    assert documents["paypal-account-review.net"]["raw_metadata"]["object"]["name"] == "domain-ip"
    assert "194.87.31.40" not in documents  # to_ids false
    assert "103.75.201.4" not in documents  # deleted
    assert documents["CVE-2017-11882"]["ttl"] == 90 * 86400

    before = len(feed_connections.requests("misp_circl"))
    unchanged = run_dag(DAG_ID, SECOND)
    assert unchanged.succeeded
    assert _paths(feed_connections)[before:] == ["manifest.json"]
    assert (unchanged.counts["records"], unchanged.counts["written"]) == (0, 0)
    assert unchanged.results["fetch"]["source_metadata"]["unchanged_events"] == 4
    assert unchanged.results["fetch"]["up_to_date"] is True  # no zero_records alert for it

    feed_connections.use_scenario("misp_circl", "changed")
    before = len(feed_connections.requests("misp_circl"))
    changed = run_dag(DAG_ID, THIRD)
    assert changed.succeeded
    assert _paths(feed_connections)[before:] == ["manifest.json", f"{CHANGED_EVENT}.json"]
    assert changed.results["fetch"]["source_metadata"]["changed_events"] == 1
    assert changed.results["fetch"]["up_to_date"] is False
    assert changed.counts["written"] == 6
    documents = {d["indicator_value"]: d for d in stored_documents()}
    assert documents["185.244.25.112"]["ingested_at"] == "2026-12-02T12:15:00Z"
    assert documents["185.244.25.112"]["last_seen"] == "2025-12-02T07:00:00Z"
    assert documents["176.113.115.73"]["ingested_at"] == "2026-12-02T12:15:00Z"
    # Removed from the event: no longer refreshed.
    removed = documents["http://invoice-docs-secure.com/wp-content/uploads/doc_2811.php"]
    assert removed["ingested_at"] == "2026-12-02T00:15:00Z"
    # Other events were not fetched again.
    assert documents["CVE-2017-11882"]["ingested_at"] == "2026-12-02T00:15:00Z"


def test_its_documents_reach_the_merged_view(no_earlier_runs: None, run_dag: RunDag) -> None:
    from threatstream.store.merged import MergedViewHook
    from threatstream_dev.runs import load_dagbag, run_outcome

    validate = run_dag(DAG_ID, FIRST).results["validate"]
    batch = {"valid_uri": validate["valid_uri"], "storage_conn_id": validate["storage_conn_id"]}
    merge_dag = load_dagbag(DAGS_FOLDER).dags["threatstream_merged_view"]
    merged_run = run_outcome("threatstream_merged_view", merge_dag.test(run_conf={"batches": [batch]}).run_id)
    assert merged_run is not None
    assert merged_run.succeeded
    merged, _ = MergedViewHook().read_merged("IPv4", "45.153.241.88")
    assert merged is not None
    assert merged["source_names"] == ["misp_circl"]
    assert merged["tlp"] == "amber"


def test_a_dry_run_moves_no_bookmark(
    no_earlier_runs: None, run_dag: RunDag, feed_connections: FeedReplayServer
) -> None:
    from threatstream_dev.runs import run_dag_file

    dry = run_dag_file(str(DAGS_FOLDER), DAG_ID, FIRST, {"dry_run": True})
    assert dry.results["fetch"]["source_metadata"]["new_events"] == 4
    again = run_dag(DAG_ID, SECOND)
    assert again.succeeded
    assert again.results["fetch"]["source_metadata"]["new_events"] == 4
    assert again.counts["written"] == 22
