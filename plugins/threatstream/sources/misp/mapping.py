"""MISP attributes -> observations: the type map, TLP tags and timestamps (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from threatstream.canonical.addresses import ip_indicator_type
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation

#: Address types: IPv4 or IPv6 by the address itself, CIDR with a prefix length.
IP = "ip"

#: Each MISP attribute type and the types of its ``|``-separated parts (None: not an indicator,
#: kept in ``raw_metadata``). A type not listed here is quarantined as ``unsupported_type``.
MISP_TYPES: Mapping[str, tuple[IndicatorType | str | None, ...]] = {
    "ip-src": (IP,),
    "ip-dst": (IP,),
    "ip-src|port": (IP, None),
    "ip-dst|port": (IP, None),
    "domain": (IndicatorType.DOMAIN,),
    "hostname": (IndicatorType.HOSTNAME,),
    "domain|ip": (IndicatorType.DOMAIN, IP),
    "hostname|port": (IndicatorType.HOSTNAME, None),
    "url": (IndicatorType.URL,),
    "uri": (IndicatorType.URI,),
    "md5": (IndicatorType.FILEHASH_MD5,),
    "sha1": (IndicatorType.FILEHASH_SHA1,),
    "sha256": (IndicatorType.FILEHASH_SHA256,),
    "imphash": (IndicatorType.FILEHASH_IMPHASH,),
    "pehash": (IndicatorType.FILEHASH_PEHASH,),
    "filename|md5": (None, IndicatorType.FILEHASH_MD5),
    "filename|sha1": (None, IndicatorType.FILEHASH_SHA1),
    "filename|sha256": (None, IndicatorType.FILEHASH_SHA256),
    "filename|imphash": (None, IndicatorType.FILEHASH_IMPHASH),
    "filename|pehash": (None, IndicatorType.FILEHASH_PEHASH),
    "malware-sample": (None, IndicatorType.FILEHASH_MD5),
    "filename": (IndicatorType.FILEPATH,),
    "email": (IndicatorType.EMAIL,),
    "email-src": (IndicatorType.EMAIL,),
    "email-dst": (IndicatorType.EMAIL,),
    "email-reply-to": (IndicatorType.EMAIL,),
    "ja3-fingerprint-md5": (IndicatorType.JA3,),
    "btc": (IndicatorType.BITCOIN_ADDRESS,),
    "vulnerability": (IndicatorType.CVE,),
    "mutex": (IndicatorType.MUTEX,),
    "yara": (IndicatorType.YARA,),
    "x509-fingerprint-md5": (IndicatorType.SSL_CERT_FINGERPRINT,),
    "x509-fingerprint-sha1": (IndicatorType.SSL_CERT_FINGERPRINT,),
    "x509-fingerprint-sha256": (IndicatorType.SSL_CERT_FINGERPRINT,),
}
#: What a composite attribute's non-indicator part is called in ``raw_metadata``.
PART_NAMES: Mapping[str, tuple[str, ...]] = {
    "ip-src|port": ("ip", "port"),
    "ip-dst|port": ("ip", "port"),
    "domain|ip": ("domain", "ip"),
    "hostname|port": ("hostname", "port"),
    "malware-sample": ("filename", "md5"),
}
#: TLP labels from the least to the most restrictive: of several TLP tags the last one wins.
TLP_ORDER = (TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED)
#: Attribute fields kept in ``raw_metadata``.
ATTRIBUTE_FIELDS = ("uuid", "type", "category", "to_ids", "comment", "timestamp")
#: Event fields (from the manifest) kept in ``raw_metadata``, under ``event_<field>``.
EVENT_FIELDS = ("uuid", "info", "date", "threat_level_id", "analysis", "org")


class Rules(NamedTuple):
    """What a feed's spec says about mapping: its extra types, the ``to_ids`` filter, defaults."""

    types: Mapping[str, tuple[IndicatorType | str | None, ...]] = MISP_TYPES
    to_ids_only: bool = True
    tlp: TLP | None = None
    static_tags: tuple[str, ...] = ()


def indicator_parts(attribute_type: str, rules: Rules) -> tuple[int, ...]:
    """The indexes of the ``|``-separated parts of ``attribute_type`` that are indicators.

    ``(0,)`` for a type that is not mapped: the attribute is still one record, quarantined
    as ``unsupported_type`` with its type.
    """
    kinds = rules.types.get(attribute_type)
    if kinds is None:
        return (0,)
    return tuple(index for index, kind in enumerate(kinds) if kind is not None)


def is_selected(attribute: Mapping[str, Any], rules: Rules) -> bool:
    """Whether an attribute is read at all: ``to_ids`` true, unless the spec takes every one."""
    return not rules.to_ids_only or _flag(attribute.get("to_ids"))


def tag_names(tags: Any) -> list[str]:
    """The names of a MISP ``Tag`` list (``[{"name": ...}, ...]``) or of a list of names."""
    names: list[str] = []
    for tag in tags if isinstance(tags, list) else ():
        name = tag.get("name") if isinstance(tag, Mapping) else tag
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def tlp_of(tags: Iterable[str]) -> tuple[TLP | None, str | None]:
    """The most restrictive TLP of ``tlp:`` tags, and an unknown ``tlp:`` label if that is all."""
    found: TLP | None = None
    unknown: str | None = None
    for name in tags:
        if not name.lower().startswith("tlp:"):
            continue
        tlp = TLP.parse(name)
        if tlp is None:
            unknown = unknown or name
        elif found is None or TLP_ORDER.index(tlp) > TLP_ORDER.index(found):
            found = tlp
    return found, (unknown if found is None else None)


def epoch(value: Any) -> datetime | None:
    """A MISP ``timestamp`` (seconds since the epoch, as text or a number) as UTC; None if absent."""
    if value is None or value == "":
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"timestamp {str(value)[:40]!r} is not seconds since the epoch") from None
    return datetime.fromtimestamp(seconds, UTC)


def parse_attribute(record: Mapping[str, Any], context: Mapping[str, Any], rules: Rules) -> Observation:
    """One attribute record (see :func:`~threatstream.sources.misp.events.split_event`) -> observation.

    :raises InvalidIndicator: ``deleted`` (the attribute or its object), ``unsupported_type``
        (a type the map does not know), ``malformed_attribute`` (no value, a composite value
        without its ``|``, a timestamp that is no timestamp) or a canonicalisation reason.
    """
    attribute: Mapping[str, Any] = record["attribute"]
    attribute_type = str(attribute.get("type", ""))
    if _flag(attribute.get("deleted")) or record.get("object_deleted"):
        where = "its object is" if record.get("object_deleted") else "it is"
        raise InvalidIndicator(
            "deleted", f"{attribute_type} attribute {attribute.get('uuid')}: {where} deleted"
        )
    kinds = rules.types.get(attribute_type)
    if kinds is None:
        raise InvalidIndicator("unsupported_type", f"MISP type {attribute_type[:60]!r} has no indicator type")
    value = attribute.get("value")
    if not isinstance(value, str) or not value.strip():
        raise InvalidIndicator("malformed_attribute", f"{attribute_type} attribute has no value")
    parts = value.split("|", len(kinds) - 1) if len(kinds) > 1 else [value]
    if len(parts) != len(kinds):
        raise InvalidIndicator(
            "malformed_attribute", f"{attribute_type} value {value[:80]!r} has not {len(kinds)} parts"
        )
    index = int(record.get("part", indicator_parts(attribute_type, rules)[0]))
    kind = kinds[index]
    indicator_value = parts[index].strip()
    indicator_type = _indicator_type(kind, indicator_value)
    metadata = _metadata(record, context, attribute)
    names = PART_NAMES.get(attribute_type) or tuple("filename" if k is None else str(k) for k in kinds)
    metadata.update({names[i]: part.strip() for i, part in enumerate(parts) if i != index and len(parts) > 1})
    attribute_tags = tag_names(attribute.get("Tag"))
    event_tags: list[str] = list(context.get("tags") or ())
    tlp, unknown = tlp_of(attribute_tags)
    if tlp is None and unknown is None:
        tlp, unknown = tlp_of(event_tags)
    tags = [t for t in (*event_tags, *attribute_tags) if not t.lower().startswith("tlp:")]
    try:
        reported = epoch(attribute.get("timestamp"))
        first_seen = parse_timestamp(attribute.get("first_seen") or None)
        last_seen = parse_timestamp(attribute.get("last_seen") or None) or reported
    except ValueError as err:
        raise InvalidIndicator("malformed_attribute", str(err)) from None
    if first_seen is None:
        first_seen = _event_date(context.get("date"))
    return new_observation(
        {
            "indicator_type": indicator_type,
            "value": indicator_value,
            "tags": (*tags, *rules.static_tags),
            "tlp": unknown if tlp is None and unknown is not None else (tlp or rules.tlp),
            "first_seen": first_seen,
            "last_seen": last_seen,
            "raw_metadata": metadata,
        }
    )


def _indicator_type(kind: IndicatorType | str | None, value: str) -> IndicatorType:
    if isinstance(kind, IndicatorType):
        return kind
    if "/" in value:
        return IndicatorType.CIDR
    return ip_indicator_type(value)


def _metadata(
    record: Mapping[str, Any], context: Mapping[str, Any], attribute: Mapping[str, Any]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {f"attribute_{key}": attribute.get(key) for key in ATTRIBUTE_FIELDS}
    metadata.update({f"event_{key}": context.get(key) for key in EVENT_FIELDS})
    obj = record.get("object")
    if obj:
        metadata["object"] = dict(obj)
    return metadata


def _event_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _flag(value: Any) -> bool:
    """MISP writes booleans as ``true``, ``1`` or ``"1"``."""
    return value is True or value == 1 or (isinstance(value, str) and value.strip().lower() in ("1", "true"))
