"""The ThreatFox hook against the replay server: POST body, Auth-Key, query_status handling."""

from __future__ import annotations

import json

import pytest

from threatstream.exceptions import FeedAuthError, FeedOptionError, FeedRequestError, FeedUnavailableError
from threatstream.feeds.pages import FetchWindow
from threatstream.sources.threatfox import ThreatFoxHook, split_records
from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer

pytestmark = pytest.mark.replay


def test_posts_get_iocs_as_json_with_the_auth_key(feed_connections: FeedReplayServer) -> None:
    (page,) = ThreatFoxHook(max_attempts=1).iter_pages(FetchWindow(), days=3)
    assert len(split_records(page)) == 30
    (request,) = feed_connections.requests("threatfox")
    assert (request.method, request.path) == ("POST", "/threatfox/api/v1/")
    assert request.headers["Auth-Key"] == "<redacted>"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("days", [0, 8])
def test_days_outside_one_to_seven_fail_before_any_request(
    feed_connections: FeedReplayServer, days: int
) -> None:
    with pytest.raises(FeedOptionError, match="between 1 and 7"):
        list(ThreatFoxHook().iter_pages(FetchWindow(), days=days))
    assert feed_connections.requests("threatfox") == []


def test_no_result_is_an_empty_page(feed_connections: FeedReplayServer) -> None:
    feed_connections.use_scenario("threatfox", "no_result")
    (page,) = ThreatFoxHook().iter_pages(FetchWindow())
    assert split_records(page) == []


@pytest.mark.parametrize("scenario", ["auth_in_body", None])
def test_a_refused_key_fails_without_retry(
    feed_connections: FeedReplayServer, monkeypatch: pytest.MonkeyPatch, scenario: str | None
) -> None:
    if scenario:
        feed_connections.use_scenario("threatfox", scenario)
    else:
        monkeypatch.setenv(
            "AIRFLOW_CONN_THREATSTREAM_THREATFOX",
            feed_connections.connection_json("threatfox", key="revoked"),
        )
    with pytest.raises(FeedAuthError) as caught:
        list(ThreatFoxHook().iter_pages(FetchWindow()))
    assert "revoked" not in str(caught.value)
    assert len(feed_connections.requests("threatfox")) == 1


def test_a_missing_key_fails_before_any_request(
    feed_connections: FeedReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_THREATSTREAM_THREATFOX", feed_connections.connection_json("threatfox", key="")
    )
    with pytest.raises(FeedAuthError, match="no API key"):
        list(ThreatFoxHook().iter_pages(FetchWindow()))
    assert feed_connections.requests("threatfox") == []


def test_post_retries_transient_errors_like_get(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("threatfox", status=502, body="<html>502</html>", times=2)
    hook = ThreatFoxHook(backoff_initial=0.01)
    (page,) = hook.iter_pages(FetchWindow())
    assert len(split_records(page)) == 30
    assert hook.request_count == 3
    feed_connections.inject_fault("threatfox", status=503, times=5)
    with pytest.raises(FeedUnavailableError, match="POST api/v1/"):
        list(ThreatFoxHook(max_attempts=2, backoff_initial=0.01).iter_pages(FetchWindow()))


def test_an_unexpected_query_status_fails_without_retry(feed_connections: FeedReplayServer) -> None:
    hook = ThreatFoxHook()
    with pytest.raises(FeedRequestError, match="unknown_query"):
        hook.query("ThreatFox", json={"query": "nonsense"})
    assert TEST_KEYS["threatfox"] not in json.dumps([r.to_json() for r in feed_connections.requests()])
