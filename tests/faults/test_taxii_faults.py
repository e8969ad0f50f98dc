"""A hostile TAXII 2.1 server against the real TAXII hook, fetch's page store and validate.

The server is real HTTP on 127.0.0.1 (:mod:`threatstream_dev.hostile_feed`): discovery and
the collection list are well-behaved, the objects endpoint misbehaves. Each case records its
row for ``docs/reliability.md`` with ``fault_case``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from threatstream.batches.storage import open_path
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchWindow
from threatstream.operators.fetch import _store_page
from threatstream.records.results import StoredPage, ValidateResult
from threatstream.sources.taxii import TAXII
from threatstream.sources.taxii.envelope import split_records
from threatstream.sources.taxii.hook import TAXII_MEDIA_TYPE, TaxiiHook
from threatstream.sources.taxii.parse import parse_record
from threatstream_dev.batches import validate_stored
from threatstream_dev.hostile_feed import Behaviour, HostileFeedServer, json_body, raw_body
from threatstream_dev.memory import python_peak

pytestmark = pytest.mark.replay

#: The ``fault_case`` fixture of ``tests/faults/conftest.py``.
FaultCase = Callable[[str, str, str], None]

MIB = 1 << 20
ROOT = "/api1/"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
OBJECTS = f"{ROOT}collections/{COLLECTION}/objects/"
WINDOW = FetchWindow(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC))
DATES = {
    "X-TAXII-Date-Added-First": "2026-11-28T09:01:00Z",
    "X-TAXII-Date-Added-Last": "2026-11-28T09:02:00Z",
}
INDICATOR = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--0b0b0b0b-0000-4000-8000-000000000001",
    "created": "2026-11-28T09:01:00.000Z",
    "modified": "2026-11-28T09:01:00.000Z",
    "pattern": "[ipv4-addr:value = '45.137.21.9']",
    "pattern_type": "stix",
    "valid_from": "2026-11-28T09:01:00Z",
}


@pytest.fixture
def taxii(hostile_server: HostileFeedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileFeedServer]:
    """The server with discovery and one readable collection; the objects endpoint is the test's."""
    hostile_server.reset()
    hostile_server.route("/taxii2/", json_body({"title": "hostile", "api_roots": [f"{{base_url}}{ROOT}"]}))
    hostile_server.route(
        f"{ROOT}collections/", json_body({"collections": [{"id": COLLECTION, "can_read": True}]})
    )
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_TAXII", hostile_server.connection_json("taxii"))
    yield hostile_server
    hostile_server.reset()


def envelope(objects: list[Any], *, more: bool = False, token: str | None = None,
             headers: dict[str, str] | None = None) -> Behaviour:  # fmt: skip
    document: dict[str, Any] = {"more": more, "objects": objects}
    if token is not None:
        document["next"] = token
    return raw_body(
        json.dumps(document), content_type=TAXII_MEDIA_TYPE, headers=DATES if headers is None else headers
    )


def _hook() -> TaxiiHook:
    return TaxiiHook(max_attempts=3, backoff_initial=0.01)


def _pages(hook: TaxiiHook, window: FetchWindow = WINDOW) -> int:
    """Fetch every page and split it (everything fetch does but storing)."""
    try:
        return sum(1 for page in hook.iter_pages(window) for _ in split_records(page))
    finally:
        hook.close()


def _object_requests(server: HostileFeedServer) -> int:
    return len(server.requests(OBJECTS))


def _fetch_and_validate(folder: Path) -> tuple[list[StoredPage], ValidateResult]:
    """The real fetch page store (stream to storage, hash, count) and the real validate."""
    hook = _hook()
    stored: list[StoredPage] = []
    records = 0
    try:
        for number, page in enumerate(hook.iter_pages(WINDOW), start=1):
            target = open_path((folder / f"page-{number:04d}.json").as_uri())
            stored.append(_store_page(TAXII, page, target, records, 10_000_000))
            records += stored[-1].records
    finally:
        hook.close()
    result = validate_stored(
        TAXII,
        folder,
        stored,
        start=WINDOW.start,
        end=WINDOW.end,
        fetched_at=datetime(2026, 11, 28, 10, 5, tzinfo=UTC),
        requests=hook.request_count,
        run_id="manual__taxii_faults",
    )
    return stored, result


# -- bounded memory ---------------------------------------------------------------------------


def test_a_30_mb_page_of_tiny_objects_is_fetched_and_validated_with_bounded_memory(
    taxii: HostileFeedServer, tmp_path: Path, fault_case: FaultCase
) -> None:
    tiny = b'{"type":"x-tiny"},' * ((30 * MIB) // 18)
    body = b'{"more": false, "objects": [' + tiny + json.dumps(INDICATOR).encode() + b"]}"
    taxii.route(OBJECTS, raw_body(body, content_type=TAXII_MEDIA_TYPE, headers=DATES))
    with python_peak() as peak:
        stored, validated = _fetch_and_validate(tmp_path)
    assert (sum(page.records for page in stored), validated.valid, validated.rejected) == (1, 1, 0)
    assert sum(page.bytes for page in stored) == len(body)
    # The body itself (held once by the hook, once while joined), never its 1.7 M objects:
    # decoded whole, fetch + validate of this page peaked at 924 MiB (Python).
    assert peak[0] < 3 * len(body) + 16 * MIB
    fault_case(
        f"taxii: a {len(body) / MIB:.0f} MiB page of 1.7 M tiny objects, fetch + validate",
        "read item by item (decoded whole, fetch + validate peaked at 924 MiB); the one indicator stored",
        f"1 valid, Python peak {peak[0] / MIB:.0f} MiB",
    )


def test_indicators_marked_before_their_marking_definition_wait_on_disk(fault_case: FaultCase) -> None:
    from threatstream.feeds.pages import FetchedPage

    purple = "marking-definition--e66ed320-42aa-5d17-a123-e1f9b62cca52"
    marked = {**INDICATOR, "object_marking_refs": [purple], "description": "x" * 2000}
    count = 20_000  # about 48 MB of indicators waiting for the definition at the page's end
    definition = {"type": "marking-definition", "id": purple, "definition_type": "tlp", "name": "TLP:PURPLE"}
    body = json.dumps({"objects": [marked] * count + [definition]}).encode()
    with python_peak() as peak:
        labels = {tuple(r["tlp_labels"]) for r in split_records(FetchedPage(body))}
    assert labels == {("TLP:PURPLE",)}
    assert peak[0] < 16 * MIB  # held, the waiting indicators alone take several times the page
    fault_case(
        "taxii: 20,000 indicators (48 MB) marked by a definition at the page's end",
        "each gets the page's TLP; waiting ones spill to disk, not held",
        f"all TLP:PURPLE, Python peak {peak[0] / MIB:.1f} MiB",
    )


# -- paging that never ends --------------------------------------------------------------------


def _dates(first: str, last: str) -> dict[str, str]:
    return {"X-TAXII-Date-Added-First": first, "X-TAXII-Date-Added-Last": last}


@pytest.mark.parametrize(
    ("case", "script", "message", "requests"),
    [
        (
            "the same next token on every page",
            [envelope([INDICATOR], more=True, token="abc", headers={})],
            "'next' 'abc' was already followed",
            2,
        ),
        (
            "next tokens that change, X-TAXII-Date-Added-Last that repeats",
            [
                envelope([INDICATOR], more=True, token="1", headers=DATES),
                envelope([INDICATOR], more=True, token="2", headers=DATES),
                envelope([INDICATOR], more=True, token="3", headers=DATES),
            ],
            "X-TAXII-Date-Added-Last 2026-11-28T09:02:00\\+00:00 does not advance",
            2,
        ),
        (
            "X-TAXII-Date-Added-Last that goes back",
            [
                envelope([INDICATOR], more=True, token="1", headers=DATES),
                envelope(
                    [INDICATOR],
                    more=True,
                    token="2",
                    headers=_dates("2026-11-28T09:00:30Z", "2026-11-28T09:01:00Z"),
                ),
            ],
            "does not advance",
            2,
        ),
        (
            "no next, the same X-TAXII-Date-Added-Last (the added_after fallback)",
            [
                envelope(
                    [INDICATOR], more=True, headers=_dates("2026-11-28T08:00:00Z", "2026-11-28T08:30:00Z")
                )
            ],
            "does not advance the paging",
            1,
        ),
    ],
)
def test_paging_that_does_not_advance_stops_at_once(
    case: str,
    script: list[Behaviour],
    message: str,
    requests: int,
    taxii: HostileFeedServer,
    fault_case: FaultCase,
) -> None:
    taxii.route(OBJECTS, *script)
    with pytest.raises(FeedFormatError, match=message) as caught:
        _pages(_hook())
    assert _object_requests(taxii) == requests  # not max_pages (1000) requests
    assert f"collection {COLLECTION}" in str(caught.value)
    assert "connection 'threatstream_taxii'" in str(caught.value)
    fault_case(
        f"taxii: {case}",
        "FeedFormatError at once, no retry (not 1000 requests and pages)",
        f"failed after {requests} objects request(s)",
    )


# -- date headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"])
@pytest.mark.parametrize(
    "value", ["garbage", "2026-13-45T00:00:00Z", "2026-11-28T09:30:00+99:99", "9999-12-31T23:59:59-23:59"]
)
def test_a_garbage_date_header_is_the_feeds_format_error(
    header: str, value: str, taxii: HostileFeedServer, fault_case: FaultCase
) -> None:
    taxii.route(OBJECTS, envelope([INDICATOR], headers={**DATES, header: value}))
    with pytest.raises(FeedFormatError) as caught:
        _pages(_hook())
    message = str(caught.value)
    assert header in message
    assert value[:20] in message
    assert f"collection {COLLECTION}" in message
    assert "connection 'threatstream_taxii'" in message
    assert _object_requests(taxii) == 1
    fault_case(
        f"taxii: {header}: {value}",
        "FeedFormatError naming the header and the feed, no retry (was a bare ValueError, retried)",
        "failed at once, named",
    )


def test_a_date_added_first_far_in_the_future_is_a_format_error(
    taxii: HostileFeedServer, fault_case: FaultCase
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
    taxii.route(OBJECTS, envelope([INDICATOR], headers=_dates(future, future)))
    with pytest.raises(FeedFormatError, match=r"X-TAXII-Date-Added-First .* is in the future"):
        _pages(_hook())
    fault_case(
        "taxii: X-TAXII-Date-Added-First ten years in the future",
        "FeedFormatError, never a green empty run",
        "failed at once",
    )


def test_a_date_header_within_clock_skew_is_accepted(taxii: HostileFeedServer) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = FetchWindow(WINDOW.start, datetime.now(UTC) + timedelta(hours=1))
    taxii.route(OBJECTS, envelope([INDICATOR], headers=_dates(soon, soon)))
    assert _pages(_hook(), window) == 1


def test_nothing_added_in_the_window_is_a_clean_run_that_says_so(
    taxii: HostileFeedServer, fault_case: FaultCase
) -> None:
    later = _dates("2026-11-28T13:00:00Z", "2026-11-28T13:05:00Z")  # after the window, before now
    taxii.route(OBJECTS, envelope([INDICATOR], more=True, token="x", headers=later))
    hook = _hook()
    assert _pages(hook) == 0
    assert hook.source_metadata() == {
        "stopped_at_window_end": True,
        "date_added_first": "2026-11-28T13:00:00+00:00",
    }
    assert _object_requests(taxii) == 1
    taxii.route(OBJECTS, envelope([], headers={}))
    empty = _hook()
    assert _pages(empty) == 0
    assert empty.source_metadata() == {"stopped_at_window_end": False}
    fault_case(
        "taxii: the first page was added after the window end (nothing new in the window)",
        "a green empty run, marked stopped_at_window_end in source_metadata (an empty page is not)",
        "empty, marked",
    )


# -- STIX patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "pattern", "expected"),
    [
        (
            "an invalid escape (\\n) in a STIX string",
            "[url:value = 'http://evil.example.net/\\n']",
            "unsupported_pattern",
        ),
        ("whitespace around ':' (valid STIX)", "[ipv4-addr : value = '8.8.4.4']", "IPv4 8.8.4.4"),
        (
            "MISP ip-dst: network-traffic:dst_ref type and value",
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '45.137.21.9']",
            "IPv4 45.137.21.9",
        ),
        (
            "MISP file: several hashes of one file",
            "[file:hashes.MD5 = 'acbd18db4cc2f85cedef654fccc4a4d8' OR "
            "file:hashes.'SHA-256' = '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae']",
            "FileHash-SHA256 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        ),
        (
            "MISP domain|ip: domain-name with resolves_to_refs",
            "[domain-name:value = 'evil.example' AND domain-name:resolves_to_refs[*].value = '45.137.21.9']",
            "domain evil.example",
        ),
        (
            "a condition: FOLLOWEDBY",
            "[ipv4-addr:value = '45.137.21.9'] FOLLOWEDBY [domain-name:value = 'evil.example']",
            "unsupported_pattern",
        ),
    ],
)
def test_stix_patterns_map_one_observable_and_quarantine_the_rest(
    case: str, pattern: str, expected: str, fault_case: FaultCase
) -> None:
    from threatstream.canonical.errors import InvalidIndicator

    try:
        observation = parse_record({"indicator": {**INDICATOR, "pattern": pattern}, "tlp_labels": []}, {})
    except InvalidIndicator as error:
        outcome = error.reason
    else:
        outcome = f"{observation.indicator_type} {observation.value}"
    assert outcome == expected
    assert "http://evil.example.net/n" not in outcome
    fault_case(f"taxii pattern: {case}", expected, outcome)
