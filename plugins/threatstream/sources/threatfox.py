"""ThreatFox (abuse.ch): IOCs shared by the community, from the ``get_iocs`` API query.

Contract relied on (docs/sources.md; threatfox.abuse.ch/api, abuse.ch's own sample scripts
in github.com/abusech/ThreatFox, Elastic's ti_abusech integration and its test logs):
``POST https://threatfox-api.abuse.ch/api/v1/`` with the JSON body
``{"query": "get_iocs", "days": N}`` and the ``Auth-Key`` header; ``days`` is 1-7 whole
days counted back from *now* on ``first_seen``, with no paging. The answer is
``{"query_status": "ok", "data": [...]}``, or ``no_result`` when nothing is new; each IOC
has ``id`` (string), ``ioc``, ``ioc_type`` (``ip:port``, ``domain``, ``url``,
``md5_hash``, ``sha1_hash``, ``sha256_hash``), ``threat_type``, ``malware`` (Malpedia id),
``malware_printable``, ``malware_alias`` (comma string or null), ``confidence_level``
(0-100), ``first_seen``/``last_seen`` (``"YYYY-MM-DD HH:MM:SS UTC"``, ``last_seen``
nullable), ``reference`` (nullable), ``reporter`` and ``tags`` (list or null).

How runs map to ``days``: the window is relative to the request time, not to a data
interval, so the source is a snapshot feed (backfill runs skip). Each hourly run asks for
``days=1`` (the DAG param): consecutive runs overlap by 23 hours and rewrite the same
documents idempotently, so a scheduler outage of up to a day loses nothing; after a longer
one, trigger a run with ``days`` up to 7.

``ip:port`` values are split on the *last* colon (IPv6 addresses contain colons; a
bracketed ``[v6]:port`` is accepted too), typed by the address's real version, and the port
goes to ``raw_metadata``. ``confidence_level`` becomes ``confidence``; the malware family is
a tag (unless it is "Unknown malware") and, with its aliases and Malpedia link, metadata.
A refused key fails the run at once, also when reported as ``query_status`` with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from threatstream.canonical.addresses import ip_indicator_type
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.naming import airflow_name
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.abusech import AbuseChHook, data_records
from threatstream.sources.base import SourceSpec

IOC_TYPES: dict[str, IndicatorType | None] = {
    "ip:port": None,  # IPv4 or IPv6, by the address
    "domain": IndicatorType.DOMAIN,
    "url": IndicatorType.URL,
    "md5_hash": IndicatorType.FILEHASH_MD5,
    "sha1_hash": IndicatorType.FILEHASH_SHA1,
    "sha256_hash": IndicatorType.FILEHASH_SHA256,
}
KEPT_FIELDS = (
    "id",
    "ioc_type",
    "threat_type",
    "malware",
    "malware_printable",
    "malware_alias",
    "malware_malpedia",
    "confidence_level",
    "reference",
    "reporter",
)
UNKNOWN_MALWARE = "Unknown malware"
MAX_DAYS = 7


class ThreatFoxHook(AbuseChHook):
    """ThreatFox API client; the abuse.ch Auth-Key is the connection's password.

    :param http_conn_id: connection with schema/host/port = ``https://threatfox-api.abuse.ch``.
    """

    default_conn_name = airflow_name("threatfox")
    hook_name = "ThreatFox"

    option_schema = {  # noqa: RUF012
        "days": {
            "title": "Days back",
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_DAYS,
            "description": f"IOCs first seen in the past N days (1-{MAX_DAYS}).",
        }
    }

    def iter_pages(self, window: FetchWindow, *, days: int = 1, **_: Any) -> Iterator[FetchedPage]:
        """Yield the IOCs first seen in the past ``days`` (1-7) days: one page, no paging."""
        yield self.query("ThreatFox get_iocs", json={"query": "get_iocs", "days": int(days)})


def split_records(page: FetchedPage) -> Sequence[Mapping[str, Any]]:
    """The IOCs of a ``get_iocs`` answer; ``no_result`` is an empty page."""
    return data_records(page, "ThreatFox get_iocs")


def split_ip_port(value: str) -> tuple[str, int | None]:
    """``"1.2.3.4:80"``, ``"2a02:cf40:1::5:40669"`` or ``"[2a02::5]:443"`` -> (address, port).

    The port is after the *last* colon, always: ``2a02::5:4066`` is also a valid IPv6 address,
    but the ``ip:port`` type says a port is there. A value without any colon has no port.
    """
    text = value.strip()
    if ":" not in text:
        return text, None
    address, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) <= 65535:
        raise InvalidIndicator("invalid_ip", f"{value[:80]!r} is not an address:port pair")
    return address.removeprefix("[").removesuffix("]"), int(port)


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One ThreatFox IOC -> one observation."""
    ioc_type = record.get("ioc_type")
    if ioc_type not in IOC_TYPES:
        raise InvalidIndicator("unknown_type", f"ThreatFox ioc_type {ioc_type!r} is not supported")
    value = record.get("ioc")
    if not isinstance(value, str) or not value.strip():
        raise InvalidIndicator("empty", "IOC has no value")
    metadata: dict[str, Any] = {key: record.get(key) for key in KEPT_FIELDS}
    indicator_type = IOC_TYPES[ioc_type]
    if indicator_type is None:
        value, metadata["port"] = split_ip_port(value)
        indicator_type = ip_indicator_type(value)
    confidence = record.get("confidence_level")
    malware = record.get("malware_printable")
    family = (malware,) if isinstance(malware, str) and malware and malware != UNKNOWN_MALWARE else ()
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": value,
            "confidence": confidence if isinstance(confidence, int) and 0 <= confidence <= 100 else None,
            "tags": (*string_list(record.get("tags")), *family),
            "tlp": TLP.CLEAR,
            "first_seen": parse_timestamp(record.get("first_seen")),
            "last_seen": parse_timestamp(record.get("last_seen")),
            "raw_metadata": metadata,
        }
    )


THREATFOX = SourceSpec(
    name="threatfox",
    title="ThreatFox",
    hook_class=ThreatFoxHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="20 * * * *",
    default_ttl=timedelta(days=30),
    fetch_options={"days": 1},
    description=__doc__ or "",
    weight=0.85,
    default_confidence=75,
)
