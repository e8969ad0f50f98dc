"""URLhausHook against the feed replay server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from threatstream.exceptions import FeedAuthError, FeedQuotaExhausted, FeedUnavailableError
from threatstream.feeds.pages import FetchWindow
from threatstream.sources.urlhaus import URLhausHook, split_records
from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer

pytestmark = pytest.mark.replay

WINDOW = FetchWindow()


def _hook() -> URLhausHook:
    return URLhausHook(max_attempts=3, backoff_initial=0.01)


def _connect(monkeypatch: pytest.MonkeyPatch, replay: FeedReplayServer, **kwargs: object) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_URLHAUS", replay.connection_json("urlhaus", **kwargs))  # type: ignore[arg-type]


def test_fetches_recent_urls_with_auth_key_header(feed_connections: FeedReplayServer) -> None:
    hook = _hook()
    pages = list(hook.iter_pages(WINDOW))
    assert len(pages) == 1
    assert len(list(split_records(pages[0]))) > 10
    (request,) = feed_connections.requests("urlhaus")
    assert request.path == "/v1/urls/recent/"
    assert "Auth-Key" in request.headers
    assert TEST_KEYS["urlhaus"] not in json.dumps(request.headers)
    assert "Authorization" not in request.headers  # never HTTP basic auth
    assert hook.request_count == 1


def test_limit_uses_the_limit_endpoint(feed_connections: FeedReplayServer) -> None:
    (page,) = _hook().iter_pages(WINDOW, limit=3)
    assert len(list(split_records(page))) == 3
    assert feed_connections.requests("urlhaus")[0].path == "/v1/urls/recent/limit/3/"


def test_a_timeout_is_always_set(feed_connections: FeedReplayServer) -> None:
    hook = _hook()
    list(hook.iter_pages(WINDOW))
    assert hook.merged_extra["timeout"]


def test_wrong_key_fails_at_once_naming_connection_not_key(
    replay: FeedReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "definitely-wrong-key-123"
    _connect(monkeypatch, replay, key=secret)
    with pytest.raises(FeedAuthError) as caught:
        list(_hook().iter_pages(WINDOW))
    message = str(caught.value)
    assert "threatstream_urlhaus" in message
    assert "403" in message
    assert secret not in message
    assert len(replay.requests("urlhaus")) == 1  # no retry


def test_missing_key_fails_before_any_request(
    replay: FeedReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = json.loads(replay.connection_json("urlhaus"))
    connection.pop("password")
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_URLHAUS", json.dumps(connection))
    with pytest.raises(FeedAuthError, match="no API key"):
        list(_hook().iter_pages(WINDOW))
    assert replay.requests("urlhaus") == []


def test_transient_errors_are_retried(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("urlhaus", status=503, body="<html>busy</html>", times=2)
    hook = _hook()
    (page,) = hook.iter_pages(WINDOW)
    assert list(split_records(page))
    assert hook.request_count == 3


def test_persistent_outage_fails_the_try(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("urlhaus", status=502, times=10)
    with pytest.raises(FeedUnavailableError, match="after 3 attempts"):
        list(_hook().iter_pages(WINDOW))


def test_retry_after_longer_than_the_bound_fails_without_waiting(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("urlhaus", status=429, headers={"Retry-After": "3600"}, times=5)
    with pytest.raises(FeedQuotaExhausted, match="Retry-After 3600s"):
        list(_hook().iter_pages(WINDOW))
    assert len(feed_connections.requests("urlhaus")) == 1


def test_no_results_is_an_empty_batch(feed_connections: FeedReplayServer) -> None:
    feed_connections.use_scenario("urlhaus", "no_results")
    (page,) = _hook().iter_pages(WINDOW)
    assert list(split_records(page)) == []
