"""A MISP feed's ``manifest.json`` and what a run fetches of it (pure, no I/O).

The manifest is a JSON object keyed by event uuid; each entry carries ``info``, ``date``,
``timestamp`` (seconds since the epoch, the event's last change), ``threat_level_id``,
``analysis``, ``Orgc`` and ``Tag``. A run fetches the events whose ``timestamp`` differs
from the one the bookmark holds (new or changed), oldest change first, at most
``max_events`` of them; the rest wait for the next run.
"""

from __future__ import annotations

import heapq
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import ijson

from threatstream.exceptions import FeedFormatError
from threatstream.parsing.json_stream import JsonDepthGuard
from threatstream.sources.misp.mapping import tag_names

#: What an event uuid looks like (it names the event's file: ``<uuid>.json``).
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: The format of the state document a run stores (the next run's bookmark).
STATE_FORMAT = "threatstream-misp-state/1"


@dataclass(frozen=True)
class ManifestEntry:
    """One event as the manifest lists it."""

    uuid: str
    timestamp: int
    info: str = ""
    date: str | None = None
    threat_level_id: str | None = None
    analysis: str | None = None
    org: str | None = None
    tags: tuple[str, ...] = ()

    def context(self) -> dict[str, Any]:
        """The event facts each of its attribute records carries (the page's context)."""
        return {
            "uuid": self.uuid,
            "timestamp": self.timestamp,
            "info": self.info,
            "date": self.date,
            "threat_level_id": self.threat_level_id,
            "analysis": self.analysis,
            "org": self.org,
            "tags": list(self.tags),
        }


def read_manifest(body: bytes, what: str) -> Iterator[ManifestEntry]:
    """The entries of a manifest, parsed one at a time.

    :raises FeedFormatError: not JSON, not an object, or an entry without a uuid-shaped key
        or an integer ``timestamp`` (the manifest is the run's plan: a bad one fails it).
    """
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        raise FeedFormatError(f"{what}: the manifest is not a JSON object; starts with {body[:60]!r}")
    try:
        for key, entry in ijson.kvitems(JsonDepthGuard(io.BytesIO(body), what), "", use_float=True):
            yield _entry(key, entry, what)
    except ijson.JSONError as err:
        raise FeedFormatError(f"{what}: the manifest is not valid JSON ({str(err)[:200]})") from None


def _entry(key: str, entry: Any, what: str) -> ManifestEntry:
    if not UUID.fullmatch(key) or not isinstance(entry, Mapping):
        raise FeedFormatError(f"{what}: manifest entry {key[:60]!r} is not an event uuid with an object")
    try:
        timestamp = int(entry["timestamp"])
    except (KeyError, TypeError, ValueError):
        raise FeedFormatError(f"{what}: event {key} has no integer 'timestamp'") from None
    orgc = entry.get("Orgc")
    return ManifestEntry(
        uuid=key.lower(),
        timestamp=timestamp,
        info=str(entry.get("info") or ""),
        date=_text(entry.get("date")),
        threat_level_id=_text(entry.get("threat_level_id")),
        analysis=_text(entry.get("analysis")),
        org=_text(orgc.get("name")) if isinstance(orgc, Mapping) else None,
        tags=tuple(tag_names(entry.get("Tag"))),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class FetchPlan:
    """What one run fetches, and the bookmark it leaves once its write succeeded."""

    fetch: list[ManifestEntry] = field(default_factory=list)
    #: uuid -> timestamp of every event known fetched: this run's, and earlier ones still listed.
    state: dict[str, int] = field(default_factory=dict)
    events: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deferred: int = 0
    dropped: int = 0
    missing: int = 0
    #: The bookmark's timestamp of each event fetched (None: new), restored if it cannot be.
    before: dict[str, int | None] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """The plan's numbers, for the batch metadata and the log."""
        return {
            "manifest_events": self.events,
            "new_events": self.new,
            "changed_events": self.changed,
            "unchanged_events": self.unchanged,
            "deferred_events": self.deferred,
            "dropped_events": self.dropped,
            "missing_events": self.missing,
            "fetched_events": len(self.fetch) - self.missing,
        }

    def missed(self, entry: ManifestEntry) -> None:
        """``entry``'s file could not be had (listed but absent): it keeps its old state, so the
        next run asks for it again."""
        self.missing += 1
        previous = self.before.get(entry.uuid)
        if previous is None:
            self.state.pop(entry.uuid, None)
        else:
            self.state[entry.uuid] = previous

    def state_document(self) -> dict[str, Any]:
        """The state stored with the batch: the next run's bookmark once this run's upsert succeeded."""
        return {"format": STATE_FORMAT, "events": dict(sorted(self.state.items())), **self.counts()}


def plan_fetch(
    entries: Iterator[ManifestEntry] | list[ManifestEntry],
    bookmark: Mapping[str, int] | None,
    max_events: int,
) -> FetchPlan:
    """The events to fetch: new or changed since ``bookmark`` (None: every event), oldest change
    first, at most ``max_events``; events beyond wait (``deferred``) and keep their old state.

    Only the ``max_events`` oldest changes are held while the manifest streams past, not every
    entry it lists.
    """
    known = dict(bookmark or {})
    plan = FetchPlan()

    def wanted() -> Iterator[ManifestEntry]:
        for entry in entries:
            plan.events += 1
            before = known.pop(entry.uuid, None)
            if before == entry.timestamp:
                plan.unchanged += 1
                plan.state[entry.uuid] = before
                continue
            if before is None:
                plan.new += 1
            else:
                plan.changed += 1
                plan.state[entry.uuid] = before
            yield entry

    plan.fetch = heapq.nsmallest(max_events, wanted(), key=lambda entry: (entry.timestamp, entry.uuid))
    plan.dropped = len(known)
    plan.deferred = plan.new + plan.changed - len(plan.fetch)
    for entry in plan.fetch:
        plan.before[entry.uuid] = plan.state.get(entry.uuid)
        plan.state[entry.uuid] = entry.timestamp
    return plan


def read_state(document: Any) -> dict[str, int] | None:
    """The bookmark in a stored state document; None if it is not one."""
    if not isinstance(document, Mapping) or document.get("format") != STATE_FORMAT:
        return None
    events = document.get("events")
    if not isinstance(events, Mapping):
        return None
    return {str(k): int(v) for k, v in events.items() if isinstance(v, int)}
