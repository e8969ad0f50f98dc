"""Feodo Tracker (abuse.ch): the botnet C2 IP blocklist, ``/downloads/ipblocklist.json``.

Contract relied on (docs/sources.md; IntelMQ's Feodo Tracker parser tests, Tenzir's feodo
package, abuse.ch's download page): a static JSON file, no API, no key needed (one is sent
as ``Auth-Key`` when the connection has it, as abuse.ch asks of integrations), refreshed
every few minutes; a list of ``{ip_address, port (int), status ("online"/"offline"),
hostname (nullable), as_number (int), as_name, country, first_seen ("YYYY-MM-DD HH:MM:SS"
UTC, may be absent), last_online ("YYYY-MM-DD", date only, may be null), malware}``.

The list is a snapshot of the C2s seen recently, with no history: each run stores the
current list, a C2 that drops off expires through its short TTL, and backfill runs skip.
The port, status, AS and country go to ``raw_metadata``; the malware family is also a tag.
``last_online`` is a date, so ``last_seen`` is that day's 00:00 UTC (a lower bound).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from threatstream.canonical.addresses import ip_indicator_type
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.naming import airflow_name
from threatstream.parsing.json_stream import load_json_page
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.abusech import AbuseChHook
from threatstream.sources.base import SourceSpec

BLOCKLIST = "downloads/ipblocklist.json"
KEPT_FIELDS = ("port", "status", "hostname", "as_number", "as_name", "country", "malware", "last_online")


class FeodoHook(AbuseChHook):
    """Feodo Tracker download client; the Auth-Key (optional) is the connection's password.

    :param http_conn_id: connection with schema/host/port = ``https://feodotracker.abuse.ch``.
    """

    default_conn_name = airflow_name("feodo")
    hook_name = "Feodo Tracker"
    key_required = False

    def iter_pages(self, window: FetchWindow, **_: Any) -> Iterator[FetchedPage]:
        """Yield the blocklist (one file)."""
        yield FetchedPage(body=self.get(BLOCKLIST).content)


def split_records(page: FetchedPage) -> Sequence[Mapping[str, Any]]:
    """The entries of the JSON blocklist (a top-level list)."""
    body = load_json_page(page.body, "Feodo Tracker ipblocklist.json")
    if not isinstance(body, list):
        raise FeedFormatError("Feodo Tracker ipblocklist.json: expected a JSON list of C2 entries")
    return body


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One blocklist entry -> one IPv4 or IPv6 observation."""
    address = record.get("ip_address")
    if not isinstance(address, str) or not address.strip():
        raise InvalidIndicator("empty", "entry has no ip_address")
    return new_observation(
        {
            "indicator_type": ip_indicator_type(address.strip()),
            "value": address,
            "tags": string_list(record.get("malware")),
            "tlp": TLP.CLEAR,
            "first_seen": parse_timestamp(record.get("first_seen")),
            "last_seen": parse_timestamp(record.get("last_online")),
            "raw_metadata": {key: record.get(key) for key in KEPT_FIELDS},
        }
    )


FEODO = SourceSpec(
    name="feodo",
    title="Feodo Tracker",
    hook_class=FeodoHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="10 * * * *",
    default_ttl=timedelta(days=7),
    description=__doc__ or "",
    weight=0.95,
    default_confidence=90,
)
