"""AbuseIPDBHook against the feed replay server: headers, params, quotas, errors."""

from __future__ import annotations

import time

import pytest

from threatstream.exceptions import FeedAuthError, FeedOptionError, FeedQuotaExhausted
from threatstream.feeds.pages import FetchWindow
from threatstream.sources.abuseipdb import AbuseIPDBHook, split_records
from threatstream_dev.feed_replay import FeedReplayServer

pytestmark = pytest.mark.replay

WINDOW = FetchWindow()


def _hook(**kwargs: float) -> AbuseIPDBHook:
    return AbuseIPDBHook(max_attempts=3, backoff_initial=0.01, **kwargs)  # type: ignore[arg-type]


def test_fetches_the_blacklist_with_key_and_accept_headers(feed_connections: FeedReplayServer) -> None:
    hook = _hook()
    (page,) = hook.iter_pages(WINDOW, confidence_minimum=90, limit=10)
    assert len(list(split_records(page))) == 10
    (request,) = feed_connections.requests("abuseipdb")
    assert request.path == "/api/v2/blacklist"
    assert request.query == {"confidenceMinimum": ["90"], "limit": ["10"]}
    assert "ipVersion" not in request.query  # mixed IPv4 and IPv6
    assert request.headers["Accept"] == "application/json"
    assert "Key" in request.headers
    metadata = hook.source_metadata()
    assert metadata["rate_limit_remaining"] == "4"
    assert metadata["generated_at"]


def test_confidence_minimum_is_validated(feed_connections: FeedReplayServer) -> None:
    with pytest.raises(FeedOptionError, match="'confidence_minimum' must be between 25 and 100, got 10"):
        list(_hook().iter_pages(WINDOW, confidence_minimum=10))
    assert feed_connections.requests("abuseipdb") == []  # refused before any request


def test_unauthorized_fails_at_once_with_the_apis_detail(
    replay: FeedReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_THREATSTREAM_ABUSEIPDB", replay.connection_json("abuseipdb", key="bad-key-42")
    )
    with pytest.raises(FeedAuthError, match="Authentication failed") as caught:
        list(_hook().iter_pages(WINDOW))
    assert "bad-key-42" not in str(caught.value)
    assert "threatstream_abuseipdb" in str(caught.value)
    assert len(replay.requests("abuseipdb")) == 1


def test_quota_exhausted_for_longer_than_the_bound_fails_without_waiting(
    feed_connections: FeedReplayServer,
) -> None:
    feed_connections.use_scenario("abuseipdb", "rate_limited")
    started = time.monotonic()
    with pytest.raises(FeedQuotaExhausted, match=r"Daily rate limit.*Retry-After 53998s"):
        list(_hook(max_retry_after=300).iter_pages(WINDOW))
    assert time.monotonic() - started < 5
    assert len(feed_connections.requests("abuseipdb")) == 1


def test_a_short_retry_after_is_waited_out(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault(
        "abuseipdb", status=429, headers={"Retry-After": "1"}, body='{"errors": []}'
    )
    started = time.monotonic()
    (page,) = _hook().iter_pages(WINDOW)
    assert time.monotonic() - started >= 1.0
    assert list(split_records(page))
    assert len(feed_connections.requests("abuseipdb")) == 2
