"""The MISP manifest and what a run fetches of it: new and changed events, bounded, oldest first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from threatstream.exceptions import FeedFormatError
from threatstream.sources.misp.manifest import (
    STATE_FORMAT,
    ManifestEntry,
    plan_fetch,
    read_manifest,
    read_state,
)

FIXTURES = Path(__file__).resolve().parents[2] / "include" / "feeds" / "misp_circl"
A, B, C = (f"{n}0000000-0000-4000-8000-000000000000" for n in "abc")


def _entries(**timestamps: int) -> list[ManifestEntry]:
    return [ManifestEntry(uuid=uuid, timestamp=ts) for uuid, ts in timestamps.items()]


def test_reads_the_fixture_manifest() -> None:
    entries = list(read_manifest((FIXTURES / "manifest.json").read_bytes(), "manifest"))
    assert len(entries) == 4
    first = entries[0]
    assert first.uuid == "5e8f3c2a-1b4d-4f6e-9a2c-0d1e2f3a4b5c"
    assert (first.timestamp, first.org, first.date, first.threat_level_id) == (
        1764320400,
        "CIRCL",
        "2025-11-27",
        "2",
    )
    assert "tlp:white" in first.tags
    assert first.context()["info"].startswith("OSINT - Emotet")


def test_first_run_fetches_everything_oldest_first() -> None:
    plan = plan_fetch(_entries(**{A: 30, B: 10, C: 20}), None, max_events=10)
    assert [e.uuid for e in plan.fetch] == [B, C, A]
    assert plan.state == {A: 30, B: 10, C: 20}
    assert plan.counts()["new_events"] == 3


def test_an_unchanged_manifest_fetches_nothing() -> None:
    plan = plan_fetch(_entries(**{A: 30, B: 10}), {A: 30, B: 10}, max_events=10)
    assert plan.fetch == []
    assert plan.state == {A: 30, B: 10}
    assert plan.unchanged == 2


def test_a_changed_event_is_fetched_and_a_vanished_one_dropped() -> None:
    plan = plan_fetch(_entries(**{A: 31, B: 10}), {A: 30, B: 10, C: 5}, max_events=10)
    assert [e.uuid for e in plan.fetch] == [A]
    assert plan.state == {A: 31, B: 10}
    assert (plan.changed, plan.unchanged, plan.dropped) == (1, 1, 1)


def test_events_beyond_the_bound_wait_for_the_next_run_with_their_old_state() -> None:
    plan = plan_fetch(_entries(**{A: 31, B: 10, C: 20}), {A: 30}, max_events=1)
    assert [e.uuid for e in plan.fetch] == [B]
    assert plan.state == {A: 30, B: 10}  # A keeps its old timestamp, C stays unknown
    assert plan.deferred == 2
    following = plan_fetch(_entries(**{A: 31, B: 10, C: 20}), plan.state, max_events=1)
    assert [e.uuid for e in following.fetch] == [C]


def test_the_state_document_round_trips() -> None:
    plan = plan_fetch(_entries(**{A: 30}), None, max_events=10)
    document = json.loads(json.dumps(plan.state_document()))
    assert document["format"] == STATE_FORMAT
    assert read_state(document) == {A: 30}
    assert read_state({"format": "other"}) is None
    assert read_state([]) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "not a JSON object"),
        (b"<html>", "not a JSON object"),
        (b'{"not-a-uuid": {"timestamp": "1"}}', "is not an event uuid"),
        # the key names the event's file: nothing before or after the uuid reaches the URL
        (b'{"%s\\n": {"timestamp": "1"}}' % A.encode(), "is not an event uuid"),
        (b'{"../%s": {"timestamp": "1"}}' % A.encode(), "is not an event uuid"),
        (b'{"%s": {"info": "x"}}' % A.encode(), "no integer 'timestamp'"),
        (b'{"%s": {"timestamp": "1"' % A.encode(), "not valid JSON"),
    ],
)
def test_a_bad_manifest_fails_the_run(body: bytes, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        list(read_manifest(body, "manifest"))


def test_an_event_that_could_not_be_fetched_keeps_its_old_state() -> None:
    plan = plan_fetch(_entries(**{A: 31, B: 10}), {A: 30}, max_events=10)
    for entry in plan.fetch:
        plan.missed(entry)
    assert plan.state == {A: 30}
    assert plan.counts()["missing_events"] == 2
    assert plan.counts()["fetched_events"] == 0
