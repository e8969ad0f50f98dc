"""The TAXII hook against a local TAXII 2.1 server: discovery, paging by next and by the header."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from threatstream.exceptions import (
    FeedAuthError,
    FeedFormatError,
    FeedOptionError,
    FeedRedirectError,
    FeedRequestError,
)
from threatstream.feeds.pages import FetchWindow
from threatstream.sources.taxii.envelope import split_records
from threatstream.sources.taxii.hook import TAXII_MEDIA_TYPE, TaxiiHook
from threatstream_dev.feed_replay import FeedReplayServer

pytestmark = pytest.mark.replay

WINDOW = FetchWindow(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
OBJECTS = "/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/"


def test_discovers_the_root_and_collection_and_pages_to_the_end(feed_connections: FeedReplayServer) -> None:
    pages = list(TaxiiHook().iter_pages(WINDOW, limit=10))
    assert [len(list(split_records(p))) for p in pages] == [10, 8, 7]
    assert pages[0].context == {
        "api_root": "/trustgroup1/",
        "collection": "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
    }
    requests = feed_connections.requests("taxii")
    assert [r.path for r in requests] == ["/taxii2/", "/trustgroup1/collections/", OBJECTS, OBJECTS, OBJECTS]
    first, by_next, by_header = (r.query for r in requests[2:])
    assert first == {
        "added_after": ["2026-11-28T09:00:00.000000Z"],
        "limit": ["10"],
        "match[type]": ["indicator"],
    }
    assert by_next == {**first, "next": ["2026-11-28T09:09:00.000000Z|10"]}  # the same query, plus next
    assert by_header == {**first, "added_after": ["2026-11-28T09:20:00.000000Z"]}  # X-TAXII-Date-Added-Last
    assert {r.headers["Accept"] for r in requests} == {TAXII_MEDIA_TYPE}
    assert {r.headers["Authorization"] for r in requests} == {"<redacted>"}


def test_basic_auth_from_login_and_password(
    feed_connections: FeedReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = json.loads(feed_connections.connection_json("taxii"))
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_TAXII", json.dumps({**connection, "login": "taxii-user"}))
    hook = TaxiiHook()
    assert (
        len(
            list(
                hook.iter_pages(
                    WINDOW, api_root="trustgroup1/", collection="91a7b528-80eb-42ed-a74d-c6fbd5a26116"
                )
            )
        )
        == 3
    )
    assert hook.session.auth is not None
    assert "Authorization" not in hook.session.headers  # the server accepted the Basic credentials


def test_a_wrong_token_fails_at_once(
    feed_connections: FeedReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_THREATSTREAM_TAXII", feed_connections.connection_json("taxii", key="expired")
    )
    with pytest.raises(FeedAuthError, match="Unauthorized") as caught:
        list(TaxiiHook().iter_pages(WINDOW))
    assert "expired" not in str(caught.value)


def test_more_without_next_or_header_fails_instead_of_looping(feed_connections: FeedReplayServer) -> None:
    feed_connections.use_scenario("taxii", "stuck")
    with pytest.raises(FeedFormatError, match="X-TAXII-Date-Added-Last"):
        list(TaxiiHook().iter_pages(WINDOW))


def test_a_header_that_does_not_advance_fails(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault(
        "taxii",
        status=200,
        body='{"more": true, "objects": []}',
        headers={"Content-Type": TAXII_MEDIA_TYPE, "X-TAXII-Date-Added-Last": "2026-11-28T10:00:00Z"},
        path=OBJECTS,
    )
    with pytest.raises(FeedFormatError, match="does not advance"):
        list(TaxiiHook().iter_pages(WINDOW))


def test_pages_added_after_the_window_are_left_to_later_runs(feed_connections: FeedReplayServer) -> None:
    early = FetchWindow(datetime(2026, 11, 28, 8, 0, tzinfo=UTC), datetime(2026, 11, 28, 9, 10, tzinfo=UTC))
    pages = list(TaxiiHook().iter_pages(early))
    assert len(pages) == 1  # page 2 starts at 09:12, after the window: not kept, not followed
    assert len(feed_connections.requests("taxii")) == 4


def test_api_root_on_another_host_is_refused(feed_connections: FeedReplayServer) -> None:
    feed_connections.use_scenario("taxii", "foreign_root")
    with pytest.raises(FeedRedirectError, match=r"taxii\.attacker\.example"):
        list(TaxiiHook().iter_pages(WINDOW))


def test_collection_must_be_named_when_several_are_readable(feed_connections: FeedReplayServer) -> None:
    feed_connections.inject_fault(
        "taxii",
        status=200,
        body=json.dumps({"collections": [{"id": "a", "can_read": True}, {"id": "b", "can_read": True}]}),
        path="/trustgroup1/collections/",
    )
    with pytest.raises(FeedRequestError, match=r"2 readable collections \['a', 'b'\]"):
        list(TaxiiHook().iter_pages(WINDOW))


def test_max_pages_bounds_the_chain(feed_connections: FeedReplayServer) -> None:
    with pytest.raises(FeedFormatError, match="after 2 pages"):
        list(TaxiiHook(max_pages=2).iter_pages(WINDOW))


@pytest.mark.parametrize(("options", "match"), [({"limit": 0}, "limit"), ({"max_pages": 5}, "unknown")])
def test_bad_options_fail_before_any_request(
    feed_connections: FeedReplayServer, options: dict[str, int], match: str
) -> None:
    with pytest.raises(FeedOptionError, match=match):
        list(TaxiiHook().iter_pages(WINDOW, **options))
    assert feed_connections.requests("taxii") == []
