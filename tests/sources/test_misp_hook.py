"""The MISP feed hook against the replay server: the manifest, the events to fetch, the state, the bounds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from threatstream.exceptions import FeedRequestError, FeedTooLargeError
from threatstream.feeds.pages import FetchWindow
from threatstream.sources import get_source
from threatstream.sources.misp.events import EVENT_PAGE, STATE_PAGE
from threatstream_dev.feed_replay import FeedReplayServer

pytestmark = pytest.mark.replay

FEED = "/doc/misp/feed-osint/"
CHANGED = "5e8f3c2a-1b4d-4f6e-9a2c-0d1e2f3a4b5c"


def _hook(bookmark: Mapping[str, int] | None = None, **attributes: Any) -> Any:
    base = get_source("misp_circl").hook_class
    hook_class = type("TestMispHook", (base,), {"bookmark": staticmethod(lambda: bookmark), **attributes})
    return hook_class()


def _fetch(hook: Any) -> list[Any]:
    pages = []
    for page in hook.iter_pages(FetchWindow()):
        page.body  # noqa: B018 (read the stream as fetch would)
        pages.append(page)
    return pages


def _paths(replay: FeedReplayServer) -> list[str]:
    return [r.path.removeprefix(FEED) for r in replay.requests("misp_circl")]


def test_fetches_every_event_then_the_state(feed_connections: FeedReplayServer) -> None:
    hook = _hook()
    pages = _fetch(hook)
    assert [p.kind for p in pages] == [EVENT_PAGE] * 4 + [STATE_PAGE]
    assert _paths(feed_connections)[0] == "manifest.json"
    assert len(feed_connections.requests("misp_circl")) == 5
    assert pages[0].context["uuid"] == CHANGED
    assert pages[0].context["org"] == "CIRCL"
    state = json.loads(pages[-1].body)
    assert len(state["events"]) == 4
    assert hook.source_metadata()["fetched_events"] == 4


def test_with_a_bookmark_only_changed_events_are_fetched(feed_connections: FeedReplayServer) -> None:
    state = json.loads(_fetch(_hook())[-1].body)["events"]
    feed_connections.reset()
    assert [p.kind for p in _fetch(_hook(state))] == [STATE_PAGE]
    assert _paths(feed_connections) == ["manifest.json"]

    feed_connections.reset()
    feed_connections.use_scenario("misp_circl", "changed")
    pages = _fetch(_hook(state))
    assert [p.context.get("uuid") for p in pages[:-1]] == [CHANGED]
    assert _paths(feed_connections) == ["manifest.json", f"{CHANGED}.json"]
    assert json.loads(pages[-1].body)["events"][CHANGED] > state[CHANGED]


def test_events_per_run_are_bounded(feed_connections: FeedReplayServer) -> None:
    hook = _hook(max_events_per_run=2)
    pages = _fetch(hook)
    assert len(pages) == 3
    assert hook.source_metadata()["deferred_events"] == 2


def test_manifest_and_event_sizes_are_bounded(feed_connections: FeedReplayServer) -> None:
    with pytest.raises(FeedTooLargeError, match="max_manifest_bytes=100"):
        _fetch(_hook(max_manifest_bytes=100))
    with pytest.raises(FeedTooLargeError, match="max_event_bytes=100"):
        _fetch(_hook(max_event_bytes=100))


def test_an_event_listed_but_absent_is_skipped_and_asked_for_next_run(
    feed_connections: FeedReplayServer,
) -> None:
    absent = "6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
    feed_connections.inject_fault("misp_circl", status=404, path=f"{FEED}{absent}.json")
    hook = _hook()
    pages = _fetch(hook)
    assert absent not in [p.context.get("uuid") for p in pages]
    assert (hook.source_metadata()["missing_events"], hook.source_metadata()["fetched_events"]) == (1, 3)
    state = json.loads(pages[-1].body)["events"]
    assert absent not in state
    feed_connections.reset()
    assert [p.context.get("uuid") for p in _fetch(_hook(state))][:-1] == [absent]


def test_a_missing_manifest_fails_the_run(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault("misp_circl", status=404, path=f"{FEED}manifest.json")
    with pytest.raises(FeedRequestError, match="HTTP 404"):
        _fetch(_hook())
