"""OTXHook against the feed replay server: paging, windows, link safety, errors."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from threatstream.exceptions import FeedAuthError, FeedRedirectError, FeedUnavailableError
from threatstream.feeds.pages import FetchWindow
from threatstream.sources.otx import OTXHook, split_records
from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer

pytestmark = pytest.mark.replay

WINDOW = FetchWindow(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
PULSE = "/api/v1/pulses/6651a0c2f1e3b8a0d4c2e901/indicators"


def _hook() -> OTXHook:
    return OTXHook(max_attempts=3, backoff_initial=0.01)


def test_follows_next_links_and_pages_more_indicators(feed_connections: FeedReplayServer) -> None:
    pages = list(_hook().iter_pages(WINDOW, limit=3, overlap_minutes=30))
    assert [p.kind for p in pages] == ["pulses", "pulse_indicators", "pulse_indicators", "pulses", "pulses"]
    assert sum(len(list(split_records(p))) for p in pages) == 36 + 7
    requests = feed_connections.requests("otx")
    assert [(r.path, r.query.get("page")) for r in requests] == [
        ("/api/v1/pulses/subscribed", None),
        (PULSE, None),
        (PULSE, ["2"]),
        ("/api/v1/pulses/subscribed", ["2"]),
        ("/api/v1/pulses/subscribed", ["3"]),
    ]
    first = requests[0]
    assert first.query == {"limit": ["3"], "modified_since": ["2026-11-28T08:30:00"]}
    assert "X-OTX-API-KEY" in first.headers
    assert TEST_KEYS["otx"] not in json.dumps([r.headers for r in requests])


def test_stops_at_an_empty_page(feed_connections: FeedReplayServer) -> None:
    feed_connections.use_scenario("otx", "empty_page")
    pages = list(_hook().iter_pages(WINDOW))
    assert sum(p.kind == "pulses" for p in pages) == 3
    assert feed_connections.requests("otx")[-1].query["page"] == ["4"]  # asked, found empty, stopped


def test_refuses_a_next_link_to_another_host(feed_connections: FeedReplayServer) -> None:
    feed_connections.use_scenario("otx", "foreign_next")
    pages = _hook().iter_pages(WINDOW)
    with pytest.raises(FeedRedirectError, match=r"otx\.attacker\.example"):
        list(pages)
    paths = [(r.path, r.query.get("page")) for r in feed_connections.requests("otx")]
    assert ("/api/v1/pulses/subscribed", ["2"]) not in paths


def test_a_link_on_the_public_host_is_rebased_onto_the_connection(feed_connections: FeedReplayServer) -> None:
    hook = _hook()
    list(hook.iter_pages(WINDOW))  # resolve the connection
    link = "https://otx.alienvault.com/api/v1/pulses/subscribed?limit=20&page=2"
    assert hook.rebase_link(link) == "/api/v1/pulses/subscribed?limit=20&page=2"


def test_forbidden_fails_at_once(replay: FeedReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_OTX", replay.connection_json("otx", key="wrong-otx-key"))
    with pytest.raises(
        FeedAuthError, match=r"HTTP 403 .*threatstream_otx.*Authentication required"
    ) as caught:
        list(_hook().iter_pages(WINDOW))
    assert "wrong-otx-key" not in str(caught.value)
    assert len(replay.requests("otx")) == 1


def test_bare_429_and_504_are_retried_with_backoff(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("otx", status=429, times=1)
    feed_connections.inject_fault(
        "otx", status=504, body="<html><h1>504 Gateway Time-out</h1></html>", times=1
    )
    started = time.monotonic()
    pages = list(_hook().iter_pages(WINDOW))
    assert len(pages) == 5
    assert len(feed_connections.requests("otx")) == 5 + 2
    assert time.monotonic() - started >= 0.01 + 0.02


def test_persistent_504_fails_the_try_for_airflow_to_retry(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("otx", status=504, body="<html>504</html>", times=10)
    with pytest.raises(FeedUnavailableError, match="HTTP 504"):
        list(_hook().iter_pages(WINDOW))


def test_needs_a_data_interval(feed_connections: FeedReplayServer) -> None:
    with pytest.raises(ValueError, match="data interval"):
        list(_hook().iter_pages(FetchWindow()))
