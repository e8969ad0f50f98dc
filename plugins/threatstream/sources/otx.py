"""AlienVault OTX: indicators of the pulses you subscribe to, by modification window.

Each run asks ``/api/v1/pulses/subscribed`` for the pulses modified since the start of its
data interval (minus an overlap, for late-indexed pulses), follows ``next`` until it is
null or a page is empty, and pages ``/api/v1/pulses/{id}/indicators`` for pulses that say
``more_indicators``. Runs cover real hourly intervals, so ``airflow backfill create``
recovers any past window. OTX has no ``modified_until``: a run also sees pulses modified
after its interval, which later runs rewrite idempotently.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import requests

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError, FeedLimitExceeded, FeedOptionError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.limits import MIB, FeedLimits
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.naming import airflow_name
from threatstream.parsing.json_stream import iter_json_array, json_value
from threatstream.parsing.streams import ByteStream
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.base import SourceSpec

SUBSCRIBED = "api/v1/pulses/subscribed"
#: Pulse fields every indicator of the pulse carries along (as the record's ``pulse``).
PULSE_FIELDS = (
    "id",
    "name",
    "author_name",
    "created",
    "modified",
    "tlp",
    "TLP",
    "tags",
    "malware_families",
    "attack_ids",
    "adversary",
    "references",
)
#: Indicator fields kept in ``raw_metadata``.
INDICATOR_FIELDS = ("id", "title", "description", "role", "content", "expiration", "is_active")
#: Each kept indicator field and its name in ``raw_metadata``.
_METADATA_NAMES = tuple((key, f"indicator_{key}") for key in INDICATOR_FIELDS)
#: OTX writes the vocabulary's own type names (``IPv4``, ``FileHash-SHA256``...).
_TYPES_BY_NAME = {kind.value: kind for kind in IndicatorType}


def pulse_context(pulse: Mapping[str, Any]) -> dict[str, Any]:
    """The pulse fields an indicator record needs, without the (large) indicator list."""
    return {key: pulse[key] for key in PULSE_FIELDS if key in pulse}


#: Largest single pulse (with its inline indicators) a page may hold.
MAX_PULSE_BYTES = 4 * MIB


def _results(source: ByteStream, what: str) -> Iterator[Any]:
    """The items of a DRF page's ``results`` list, streamed one at a time."""
    return iter_json_array(source, "results", f"OTX {what}", max_record_bytes=MAX_PULSE_BYTES)


class OTXHook(FeedHook):
    """OTX DirectConnect API client; the API key is the connection's password.

    :param http_conn_id: connection with schema/host/port = ``https://otx.alienvault.com``.
    """

    default_conn_name = airflow_name("otx")
    hook_name = "OTX"
    auth_header = "X-OTX-API-KEY"
    link_hosts = frozenset({"otx.alienvault.com"})
    #: A page of 20 pulses with their inline indicators reaches a few MB; runs span many pages.
    default_limits = FeedLimits(
        max_body_bytes=64 * MIB, max_request_seconds=300, max_pages=1000, max_records=1_000_000
    )
    option_schema = {  # noqa: RUF012
        "limit": {
            "title": "Pulses per page",
            "type": "integer",
            "minimum": 1,
            "maximum": 50,
            "description": "Pulses per page (OTX answers 504 to large pages).",
        },
        "overlap_minutes": {
            "title": "Overlap (minutes)",
            "type": "integer",
            "minimum": 0,
            "maximum": 1440,
            "description": "Re-read this long before the window.",
        },
        "indicator_limit": {
            "title": "Indicators per pulse page",
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "description": "Indicators per page of a large pulse.",
        },
        "since": {
            "title": "Catch up since",
            "type": ["null", "string"],
            "format": "date-time",
            "description": "Manual catch-up: fetch pulses modified since this time (ISO 8601, UTC) "
            "instead of since the run's window start, so one run covers a longer gap.",
        },
    }

    def is_auth_failure(self, response: requests.Response) -> bool:
        return response.status_code in (401, 403)

    def iter_pages(
        self,
        window: FetchWindow,
        *,
        limit: int = 20,
        overlap_minutes: int = 30,
        indicator_limit: int = 500,
        since: str | datetime | None = None,
        **_: Any,
    ) -> Iterator[FetchedPage]:
        """Yield every page of pulses modified since the window start minus the overlap.

        :param limit: pulses per page; OTX answers large pages with 504s.
        :param overlap_minutes: how far before the window start to look.
        :param indicator_limit: indicators per page of ``/pulses/{id}/indicators``.
        :param since: ISO-8601 time (UTC when naive) overriding the window start, for a
            manual catch-up of a longer gap in one run.
        """
        if since:
            try:
                start = since if isinstance(since, datetime) else datetime.fromisoformat(str(since))
            except ValueError:
                raise FeedOptionError(
                    f"OTX: fetch option 'since' is not an ISO 8601 time: {since!r}"
                ) from None
            since = (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)
        elif window.start is None:
            raise FeedOptionError("OTX fetches need the run's data interval start")
        else:
            since = window.start.astimezone(UTC) - timedelta(minutes=int(overlap_minutes))
        params = {"limit": int(limit), "modified_since": since.strftime("%Y-%m-%dT%H:%M:%S")}
        for more, content in self._follow(SUBSCRIBED, params, "pulses/subscribed"):
            yield FetchedPage(body=content, kind="pulses")
            for pulse in more:
                yield from self._pulse_indicator_pages(pulse, int(indicator_limit))

    def _pulse_indicator_pages(self, pulse: Mapping[str, Any], limit: int) -> Iterator[FetchedPage]:
        endpoint = f"api/v1/pulses/{pulse['id']}/indicators"
        context = pulse_context(pulse)
        for _, content in self._follow(endpoint, {"limit": limit}, f"pulse {pulse['id']} indicators"):
            yield FetchedPage(body=content, kind="pulse_indicators", context=context)

    def _follow(
        self, endpoint: str, params: Mapping[str, Any] | None, what: str
    ) -> Iterator[tuple[list[dict[str, Any]], bytes]]:
        """GET a DRF-paged list and follow ``next``; stop on null ``next`` or empty results.

        Yields each page's body with the contexts of its pulses that have ``more_indicators``;
        the page is read item by item, never decoded whole.
        """
        max_pages = self.limits.max_pages
        seen: set[str] = set()
        next_endpoint: str | None = endpoint
        while next_endpoint is not None:
            if next_endpoint in seen:
                raise FeedFormatError(f"OTX {what}: pagination loops back to a page already fetched")
            if len(seen) >= max_pages:
                raise FeedLimitExceeded(f"OTX {what}: pagination did not end within max_pages={max_pages}")
            seen.add(next_endpoint)
            content = self.get(next_endpoint, params).content
            items = 0
            more: list[dict[str, Any]] = []
            for item in _results(io.BytesIO(content), what):
                items += 1
                if isinstance(item, dict) and item.get("more_indicators"):
                    more.append(pulse_context(item))
            if not items:
                return
            yield more, content
            link = json_value(content, "next", f"OTX {what}")
            next_endpoint, params = (self.rebase_link(link), None) if link else (None, None)


def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """One record per indicator, each with its pulse's context, read one pulse at a time."""
    with page.open() as stream:
        if page.kind == "pulse_indicators":
            context = dict(page.context)
            for indicator in _results(stream, "indicators page"):
                yield {"pulse": context, "indicator": indicator}
            return
        for pulse in _results(stream, "pulses page"):
            indicators = pulse.get("indicators") if isinstance(pulse, dict) else None
            if not isinstance(indicators, list):
                raise FeedFormatError("OTX pulses page: a pulse without an 'indicators' list")
            context = pulse_context(pulse)
            for indicator in indicators:
                yield {"pulse": context, "indicator": indicator}


def _is_active(value: Any) -> bool:
    """OTX sends ``is_active`` as 1/0, "1"/"0" or a boolean; absent means active."""
    if value is None or isinstance(value, bool):
        return value is not False
    if isinstance(value, int):
        return value != 0
    return int(str(value).strip()) != 0


class _PulseFacts(NamedTuple):
    """What every indicator of one pulse shares."""

    tags: tuple[str, ...]
    tlp: Any
    last_seen: datetime | None
    metadata: dict[str, Any]


def _read_pulse_facts(pulse: Mapping[str, Any]) -> _PulseFacts:
    return _PulseFacts(
        tags=string_list(pulse.get("tags")),
        tlp=_tlp(pulse.get("tlp", pulse.get("TLP"))),
        last_seen=parse_timestamp(pulse.get("modified")),
        metadata={
            "pulse_id": pulse.get("id"),
            "pulse_name": pulse.get("name"),
            "author_name": pulse.get("author_name"),
            "adversary": pulse.get("adversary") or None,
            "malware_families": list(string_list(pulse.get("malware_families"))),
            "attack_ids": list(string_list(pulse.get("attack_ids"))),
            "references": list(string_list(pulse.get("references"))),
        },
    )


def _tlp(label: Any) -> Any:
    """The TLP a label means; an unknown one as written (Observation keeps it in raw metadata)."""
    try:
        return TLP.from_label(label)
    except ValueError:
        return label


class _LastPulseFacts:
    """The facts of a pulse, read once for its indicators, which come in a row.

    Keeps the last pulse read (a copy, so that a pulse changed since never matches) and its facts.
    """

    def __init__(self) -> None:
        self._last: tuple[Mapping[str, Any] | None, _PulseFacts | None] = (None, None)

    def __call__(self, pulse: Mapping[str, Any]) -> _PulseFacts:
        seen, facts = self._last
        if facts is None or pulse != seen:
            facts = _read_pulse_facts(pulse)
            self._last = (_snapshot(pulse), facts)
        return facts


def _snapshot(pulse: Mapping[str, Any]) -> Mapping[str, Any]:
    """A copy of ``pulse`` that later changes to it do not reach: a JSON round trip, several
    times cheaper than a deep copy (or a deep copy of what JSON cannot carry)."""
    try:
        copied: Mapping[str, Any] = orjson.loads(orjson.dumps(pulse))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(pulse)
    return copied


_pulse_facts = _LastPulseFacts()


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One OTX indicator (with its pulse) -> one observation."""
    pulse: Mapping[str, Any] = record["pulse"]
    indicator: Mapping[str, Any] = record["indicator"]
    otx_type = indicator.get("type")
    indicator_type = _TYPES_BY_NAME.get(otx_type) if isinstance(otx_type, str) else None
    if indicator_type is None:
        raise InvalidIndicator("unknown_type", f"OTX indicator type {otx_type!r} is not supported")
    value = indicator.get("indicator")
    facts = _pulse_facts(pulse)
    metadata = dict(facts.metadata)
    for key, name in _METADATA_NAMES:
        if kept := indicator.get(key):
            metadata[name] = kept
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": value if isinstance(value, str) else "",
            "tags": facts.tags,
            "tlp": facts.tlp,
            "first_seen": parse_timestamp(indicator.get("created")) or parse_timestamp(pulse.get("created")),
            "last_seen": facts.last_seen,
            "valid_until": parse_timestamp(indicator.get("expiration")),
            "is_active": _is_active(indicator.get("is_active")),
            "raw_metadata": metadata,
        }
    )


OTX = SourceSpec(
    name="otx",
    title="AlienVault OTX",
    hook_class=OTXHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="0 * * * *",
    default_ttl=timedelta(days=90),
    fetch_options={"limit": 20, "overlap_minutes": 30, "indicator_limit": 500, "since": None},
    interval_based=True,
    description=__doc__ or "",
    weight=0.6,
    default_confidence=60,
)
