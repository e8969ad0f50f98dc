"""Native backfill: interval feeds recover past windows exactly; snapshot feeds refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import StoredDocuments, backfill, load_dagbag

pytestmark = pytest.mark.dagrun

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
FROM, TO = datetime(2026, 11, 20, 6, 0, tzinfo=UTC), datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def dagbag(airflow_db: Path, cosmos_database: str, feed_connections: FeedReplayServer) -> Any:
    return load_dagbag(DAGS_FOLDER)


def test_otx_backfill_fetches_each_past_window(
    dagbag: Any, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcomes = backfill(dagbag.dags["threatstream_otx"], FROM, TO)
    assert [o.state for o in outcomes] == ["success"] * 3
    windows = [
        (o.results["fetch"]["data_interval_start"], o.results["fetch"]["data_interval_end"]) for o in outcomes
    ]
    assert windows == [
        ("2026-11-20T06:00:00Z", "2026-11-20T07:00:00Z"),
        ("2026-11-20T07:00:00Z", "2026-11-20T08:00:00Z"),
        ("2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z"),
    ]
    asked = [
        r.query["modified_since"]
        for r in feed_connections.requests("otx")
        if r.path == "/api/v1/pulses/subscribed" and "page" not in r.query
    ]
    assert asked == [["2026-11-20T05:30:00"], ["2026-11-20T06:30:00"], ["2026-11-20T07:30:00"]]
    documents = stored_documents()
    assert len({d["id"] for d in documents}) == len(documents) == 35


def test_snapshot_feed_backfill_runs_skip_without_calling_the_feed(
    dagbag: Any, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcomes = backfill(dagbag.dags["threatstream_abuseipdb"], FROM, TO)
    assert outcomes
    assert feed_connections.requests("abuseipdb") == []
    assert all(o.results == {} for o in outcomes)
    assert stored_documents() == []
