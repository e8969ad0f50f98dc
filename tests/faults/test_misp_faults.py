"""Hostile and broken MISP feeds against the real MISP hook, fetch's page store and validate.

The feed (a manifest and its event files, the CIRCL OSINT fixture where a case needs real
events) is served over HTTP on 127.0.0.1 by :mod:`threatstream_dev.hostile_feed`; each test
records its row for ``docs/reliability.md`` with ``fault_case``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.batches.storage import open_path
from threatstream.exceptions import FeedFormatError, FeedTooLargeError
from threatstream.feeds.pages import FetchWindow
from threatstream.operators.fetch import store_pages
from threatstream.records.results import StoredPage, ValidateResult
from threatstream.sources.base import SourceSpec
from threatstream.sources.misp.events import EVENT_PAGE, STATE_PAGE
from threatstream.sources.misp.source import to_source
from threatstream.sources.misp.spec import load_spec, specs_dir
from threatstream_dev.batches import validate_stored
from threatstream_dev.hostile_feed import (
    Behaviour,
    HostileFeedServer,
    endless,
    file_body,
    nested_json,
    raw_body,
    status,
    truncated,
)
from threatstream_dev.memory import python_peak

pytestmark = pytest.mark.replay

#: The ``fault_case`` fixture of ``tests/faults/conftest.py``.
FaultCase = Callable[[str, str, str], None]

MIB = 1 << 20
FIXTURE = Path(__file__).resolve().parents[2] / "include" / "feeds" / "misp_circl"
FEED = "/doc/misp/feed-osint/"
MANIFEST = f"{FEED}manifest.json"
WINDOW = FetchWindow(datetime(2026, 12, 2, 0, tzinfo=UTC), datetime(2026, 12, 2, 6, tzinfo=UTC))
EVENTS = sorted(path.stem for path in FIXTURE.glob("*-*-*-*-*.json") if "." not in path.stem)
PHISHING = "6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"


def _source(**change: Any) -> SourceSpec:
    """The CIRCL OSINT spec as shipped, with ``change`` over it."""
    spec = load_spec(specs_dir() / "misp_circl.json")
    return to_source(spec.model_copy(update=change))


def _hook(source: SourceSpec, bookmark: Mapping[str, int] | None = None) -> Any:
    """The source's hook with ``bookmark`` as the state the last successful run left."""
    hook_class = type("FaultMispHook", (source.hook_class,), {"bookmark": staticmethod(lambda: bookmark)})
    return hook_class()


def _serve(server: HostileFeedServer, manifest: Behaviour | None = None, **events: Behaviour) -> None:
    """The fixture feed, with ``manifest`` and any event (by uuid) replaced."""
    server.route(MANIFEST, manifest or file_body(FIXTURE / "manifest.json"))
    for uuid in EVENTS:
        server.route(f"{FEED}{uuid}.json", events.get(uuid) or file_body(FIXTURE / f"{uuid}.json"))


@pytest.fixture(autouse=True)
def _connected(hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed's connection points at the hostile server (the feed needs no key)."""
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_MISP_CIRCL", hostile.connection_json("misp_circl", key=""))


def _fetch(source: SourceSpec, folder: Path, bookmark: Mapping[str, int] | None = None) -> list[StoredPage]:
    """fetch's page store over the hook's whole run (streamed, hashed, counted, bounded)."""
    folder.mkdir(parents=True, exist_ok=True)
    hook = _hook(source, bookmark)
    try:
        return store_pages(source, hook, WINDOW, open_path(folder.as_uri()))
    finally:
        hook.close()


def _validate(source: SourceSpec, folder: Path, pages: list[StoredPage]) -> ValidateResult:
    return validate_stored(
        source,
        folder,
        pages,
        start=WINDOW.start,
        end=WINDOW.end,
        fetched_at=WINDOW.end or datetime.now(UTC),
        run_id="manual__misp_faults",
    )


def _state(folder: Path, pages: list[StoredPage]) -> dict[str, int]:
    (state_page,) = [page for page in pages if page.kind == STATE_PAGE]
    events: dict[str, int] = json.loads(Path(state_page.uri.removeprefix("file://")).read_bytes())["events"]
    return events


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _event_requests(server: HostileFeedServer) -> list[str]:
    return [r.path.removeprefix(FEED) for r in server.requests() if r.path != MANIFEST]


# -- the manifest ----------------------------------------------------------------------------------


def _oversized(prefix: bytes) -> list[tuple[str, Behaviour]]:
    """A 40 MiB body after ``prefix``: announced by ``Content-Length``, and streamed without one."""
    return [
        ("announced (Content-Length 40 MiB)", endless(40 * MIB, prefix=prefix)),
        ("streamed without a length (chunked, 40 MiB)", endless(40 * MIB, prefix=prefix, chunked=True)),
    ]


@pytest.mark.parametrize(
    ("what", "case", "behaviour"),
    [("manifest", *case) for case in _oversized(b"{")]
    + [("event", *case) for case in _oversized(b'{"Event": {"Attribute": [')],
)
def test_an_oversized_manifest_or_event_fails_at_once_with_bounded_memory(
    what: str,
    case: str,
    behaviour: Behaviour,
    hostile: HostileFeedServer,
    tmp_path: Path,
    fault_case: FaultCase,
) -> None:
    _serve(hostile)
    _fetch(_source(), tmp_path / "warm-up")  # the one-off imports, outside the measurement
    hostile.reset()
    if what == "manifest":
        _serve(hostile, manifest=behaviour)
    else:
        _serve(hostile, **{PHISHING: behaviour})
    setting = f"max_{what}_bytes"
    with python_peak() as measured, pytest.raises(FeedTooLargeError, match=f"{setting}=1048576") as raised:
        _fetch(_source(**{setting: MIB}), tmp_path)
    peak = measured[0]
    assert len(hostile.requests(MANIFEST)) == 1  # not retried
    if what == "manifest":
        assert _event_requests(hostile) == []
    else:
        assert PHISHING in str(raised.value)
        assert _event_requests(hostile).count(f"{PHISHING}.json") == 1  # not retried
    assert peak < 8 * MIB
    fault_case(
        f"MISP: {'a manifest' if what == 'manifest' else 'an event'} beyond {setting} (1 MiB), {case}",
        f"FeedTooLargeError naming {setting}{' and the event' if what == 'event' else ''}, no retry, "
        "bounded memory; no state committed, so the next run asks again",
        f"FeedTooLargeError, 1 request, Python peak {peak / MIB:.1f} MiB",
    )


@pytest.mark.parametrize(
    ("case", "manifest", "message"),
    [
        (
            "a key that climbs out of the feed's folder (`../<uuid>`)",
            {f"../{PHISHING}": {"timestamp": "1764320400"}},
            "is not an event uuid",
        ),
        (
            "a uuid followed by a newline",
            {f"{PHISHING}\n": {"timestamp": "1764320400"}},
            "is not an event uuid",
        ),
        ("an event without a timestamp", {PHISHING: {"info": "no timestamp"}}, "no integer 'timestamp'"),
        ("a list instead of an object", [PHISHING], "not a JSON object"),
    ],
)
def test_a_malformed_manifest_fails_before_any_event_is_requested(
    case: str,
    manifest: Any,
    message: str,
    hostile: HostileFeedServer,
    tmp_path: Path,
    fault_case: FaultCase,
) -> None:
    _serve(hostile, manifest=raw_body(json.dumps(manifest)))
    with pytest.raises(FeedFormatError, match=message):
        _fetch(_source(), tmp_path)
    assert len(hostile.requests(MANIFEST)) == 1
    assert _event_requests(hostile) == []  # no URL is built from a bad key
    fault_case(
        f"MISP: manifest with {case}",
        "FeedFormatError at fetch, no retry, no event requested",
        f"FeedFormatError ({message}), 1 request",
    )


def test_a_manifest_of_100000_events_is_fetched_a_bounded_number_per_run(
    hostile: HostileFeedServer, tmp_path: Path, fault_case: FaultCase
) -> None:
    fixture = json.loads((FIXTURE / "manifest.json").read_bytes())
    # The fixture's events are the oldest changes; 100,000 newer ones follow them.
    listed = {uuid: {**fixture[uuid], "timestamp": str(1_700_000_000 + n)} for n, uuid in enumerate(EVENTS)}
    listed.update(
        (f"{n:08x}-0000-4000-8000-{n:012x}", {"info": f"event {n}", "timestamp": str(1_764_000_000 + n)})
        for n in range(100_000)
    )
    body = json.dumps(listed).encode()
    _serve(hostile, manifest=raw_body(body))
    source = _source(max_events_per_run=len(EVENTS))
    hook = _hook(source)
    with python_peak() as measured:
        pages = store_pages(source, hook, WINDOW, open_path(tmp_path.as_uri()))
    peak = measured[0]
    plan = hook.source_metadata()
    assert sorted(_event_requests(hostile)) == [f"{uuid}.json" for uuid in EVENTS]
    assert (plan["manifest_events"], plan["fetched_events"], plan["deferred_events"]) == (100_004, 4, 100_000)
    assert [page.kind for page in pages] == [EVENT_PAGE] * 4 + [STATE_PAGE]
    assert set(_state(tmp_path, pages)) == set(EVENTS)  # the deferred wait, as new, for later runs
    assert peak < 3 * len(body)  # the body, plus only the 4 entries to fetch (no list of every entry)
    fault_case(
        f"MISP: a manifest listing 100,004 events ({len(body) / MIB:.0f} MiB), max_events_per_run=4",
        "the 4 oldest changes fetched, the rest deferred to later runs; only those 4 entries held",
        f"4 events fetched, 100,000 deferred, Python peak {peak / MIB:.0f} MiB",
    )


# -- the events ------------------------------------------------------------------------------------


def test_an_event_listed_but_absent_is_skipped_and_fetched_by_the_next_run(
    hostile: HostileFeedServer, tmp_path: Path, fault_case: FaultCase
) -> None:
    _serve(hostile, **{PHISHING: status(404, {"error": "Not Found"})})
    source = _source()
    first = _fetch(source, tmp_path / "first")
    result = _validate(source, tmp_path / "first", first)
    state = _state(tmp_path / "first", first)
    assert PHISHING not in state
    assert len(state) == len(EVENTS) - 1
    assert PHISHING not in [page.context.get("uuid") for page in first]
    assert result.valid > 0
    assert _event_requests(hostile).count(f"{PHISHING}.json") == 1  # a 404 is not retried
    hostile.reset()
    _serve(hostile)
    second = _fetch(source, tmp_path / "second", bookmark=state)
    assert _event_requests(hostile) == [f"{PHISHING}.json"]
    assert [page.context.get("uuid") for page in second if page.kind == EVENT_PAGE] == [PHISHING]
    assert set(_state(tmp_path / "second", second)) == set(EVENTS)
    fault_case(
        "MISP: an event the manifest lists answers 404",
        "skipped with a warning, the rest stored; left out of the state, so the next run fetches it",
        f"run 1: {len(EVENTS) - 1} events, {result.valid} valid; run 2: only the missing event fetched",
    )


@pytest.mark.parametrize(
    ("case", "behaviour", "message"),
    [
        ("nested 100,000 levels deep", raw_body(nested_json(100_000, key="Event")), "nest"),
        ("cut short mid-attribute (broken JSON)", raw_body(b'{"Event": {"Attribute": [{"ty'), "JSON"),
        ("an HTML page with status 200", raw_body("<html>Busy</html>", content_type="text/html"), "JSON"),
        ("a JSON document without an Event", raw_body(b'{"response": []}'), "no 'Event' object"),
    ],
)  # fmt: skip
def test_an_event_that_is_not_a_misp_event_fails_the_run_at_fetch(
    case: str,
    behaviour: Behaviour,
    message: str,
    hostile: HostileFeedServer,
    tmp_path: Path,
    fault_case: FaultCase,
) -> None:
    _serve(hostile, **{PHISHING: behaviour})
    with pytest.raises(FeedFormatError, match=message) as raised:
        _fetch(_source(), tmp_path)
    assert PHISHING in str(raised.value)
    assert _event_requests(hostile).count(f"{PHISHING}.json") == 1
    fault_case(
        f"MISP: an event file {case}",
        "FeedFormatError at fetch naming the event, no retry; no state committed",
        f"FeedFormatError ({str(raised.value)[:70]})",
    )


def test_an_event_body_cut_short_is_read_again(
    hostile: HostileFeedServer, tmp_path: Path, fault_case: FaultCase
) -> None:
    event = (FIXTURE / f"{PHISHING}.json").read_bytes()
    _serve(hostile)
    hostile.route(f"{FEED}{PHISHING}.json", truncated(event[: len(event) // 2]), raw_body(event))
    source = _source()
    pages = _fetch(source, tmp_path)
    (stored,) = [page for page in pages if page.context.get("uuid") == PHISHING]
    assert Path(stored.uri.removeprefix("file://")).read_bytes() == event  # the whole event, once
    assert _event_requests(hostile).count(f"{PHISHING}.json") == 2
    fault_case(
        "MISP: an event body cut short (Content-Length larger than what is sent)",
        "transient: the event read again from its start inside the try",
        f"2 requests for the event; stored whole ({stored.records} records)",
    )


# -- the attributes ---------------------------------------------------------------------------------


def _event(attributes: list[dict[str, Any]]) -> bytes:
    fixture = json.loads((FIXTURE / f"{PHISHING}.json").read_bytes())
    fixture["Event"]["Attribute"] = attributes
    fixture["Event"]["Object"] = []
    return json.dumps(fixture).encode()


def _attribute(n: int, attribute_type: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "uuid": f"{n:08x}-1111-4111-8111-{n:012x}",
        "type": attribute_type,
        "category": "Network activity",
        "value": value,
        "to_ids": True,
        "timestamp": "1764320400",
        **extra,
    }


def test_hostile_attributes_are_quarantined_one_by_one(
    hostile: HostileFeedServer, tmp_path: Path, fault_case: FaultCase
) -> None:
    attributes = [
        _attribute(1, "domain", "evil-cdn.example.net"),
        _attribute(2, "domain", "deleted.example.net", deleted=True),
        _attribute(3, "AS", "AS64500"),  # no canonical type
        _attribute(4, "ip-dst", 3232235777),  # a number, not text
        _attribute(5, "ip-dst", None),
        _attribute(6, "url", "http://" + "a" * 300_000 + ".example.net/"),
        _attribute(7, "domain|ip", "broken-pair.example.net|999.1.1.1"),
        _attribute(8, "sha256", "not-a-hash"),
        _attribute(9, "ip-dst", "45.77.14.3", timestamp="yesterday"),
        _attribute(10, "ip-src", "45.77.14.2"),
    ]
    _serve(
        hostile,
        **{uuid: raw_body(_event([])) for uuid in EVENTS if uuid != PHISHING},
        **{PHISHING: raw_body(_event(attributes))},
    )
    source = _source()
    pages = _fetch(source, tmp_path)
    result = _validate(source, tmp_path, pages)
    quarantined = _lines(tmp_path / "quarantine.jsonl")
    valid = sorted(document["indicator_value"] for document in _lines(tmp_path / "valid.jsonl"))
    assert valid == [
        "45.77.14.2",
        "broken-pair.example.net",
        "evil-cdn.example.net",
    ]  # with a pair's good half
    assert result.records == result.valid + result.rejected + result.expired + result.duplicates
    assert result.rejected == len(quarantined) >= 7
    assert all(entry["reason"] and entry["record"] for entry in quarantined)
    assert "deleted" in result.reasons
    fault_case(
        "MISP: one event with a deleted attribute, an unmapped type, a number, a null, a 300 KB URL, "
        "a pair with a bad half, a bad hash, a bad timestamp",
        "each bad attribute (or half) quarantined with its reason, the good ones stored; run green",
        f"{result.valid} valid, {result.rejected} quarantined: {dict(sorted(result.reasons.items()))}",
    )
