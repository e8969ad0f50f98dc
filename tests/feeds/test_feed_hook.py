"""The shared parts of FeedHook: option schemas, limits, page bodies."""

from __future__ import annotations

import io
from typing import Any

import pytest

from threatstream.exceptions import FeedOptionError
from threatstream.feeds.limits import FeedLimits
from threatstream.feeds.options import check_options
from threatstream.feeds.pages import FetchedPage
from threatstream.sources import all_sources, get_source

SCHEMA = {
    "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000},
    "mode": {"type": "string", "enum": ["a", "b"]},
    "ratio": {"type": "number", "minimum": 0, "maximum": 1},
}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"limit": 5}, {"limit": 5}),
        ({"limit": "5"}, {"limit": 5}),
        ({"limit": 5.0}, {"limit": 5}),
        ({"limit": None}, {"limit": None}),
        ({"mode": "b", "ratio": 0.5}, {"mode": "b", "ratio": 0.5}),
        ({"ratio": 1}, {"ratio": 1}),
    ],
)
def test_check_options_accepts_and_coerces(options: dict[str, Any], expected: dict[str, Any]) -> None:
    assert check_options(SCHEMA, options, "Feed") == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": -5}, "'limit' must be between 1 and 1000, got -5"),
        ({"limit": 1001}, "'limit' must be between 1 and 1000"),
        ({"limit": 2.5}, "'limit' must be integer or null, got 2.5"),
        ({"limit": True}, "'limit' must be integer or null, got True"),
        ({"mode": "c"}, "'mode' must be one of"),
        ({"mode": None}, "'mode' may not be null"),
        ({"other": 1}, "unknown fetch option 'other'"),
    ],
)
def test_check_options_names_the_bad_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(FeedOptionError, match=message):
        check_options(SCHEMA, options, "Feed")


def test_without_a_schema_options_pass_unchecked() -> None:
    assert check_options({}, {"anything": -1}, "Feed") == {"anything": -1}


@pytest.mark.parametrize("source", [spec.name for spec in all_sources() if spec.spec_file is None])
def test_every_source_default_is_within_its_schema(source: str) -> None:
    spec = get_source(source)
    assert set(spec.fetch_options) <= set(spec.fetch_option_schema)
    check_options(spec.fetch_option_schema, spec.fetch_options, spec.title)


def test_limits_take_positive_numbers_only() -> None:
    limits = FeedLimits().updated(
        {"max_body_bytes": "1024", "max_request_seconds": 2.5, "max_pages": None}, "x"
    )
    assert (limits.max_body_bytes, limits.max_request_seconds, limits.max_pages) == (1024, 2.5, 1000)
    for bad in ({"max_body_bytes": 0}, {"max_pages": 1.5}, {"max_records": "many"}, {"max_redirects": True}):
        with pytest.raises(FeedOptionError, match=next(iter(bad))):
            FeedLimits().updated(bad, "Connection 'c' extra")


def test_a_page_body_is_bytes_or_a_stream_read_once_then_reopened() -> None:
    assert FetchedPage(b"abc").body == b"abc"
    with FetchedPage(b"abc").open() as stream:
        assert stream.read() == b"abc"
    opened: list[int] = []

    def reopen() -> io.BytesIO:
        opened.append(1)
        return io.BytesIO(b"again")

    page = FetchedPage(io.BytesIO(b"first"), reopen=reopen)
    with page.open() as stream:
        assert stream.read() == b"first"
    with page.open() as stream:
        assert stream.read() == b"again"
    assert opened == [1]
    once = FetchedPage(io.BytesIO(b"x"))
    once.open()
    with pytest.raises(RuntimeError, match="already been read"):
        once.open()
    assert FetchedPage(io.BytesIO(b"lazy")).body == b"lazy"
