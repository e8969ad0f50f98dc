"""``threatstream lookup <value>``: is this value bad, who says so, since when, how sure are we?

The value is canonicalised exactly as the pipeline stores it (its type detected when not
given), and its merged document is fetched with a point read (id and partition key are
computed from type + canonical value). A value whose type is ambiguous (a 32-hex digest
may be an MD5, an imphash or a JA3; a host name may be stored as domain or hostname) costs
one point read per candidate type, in the order of :func:`candidate_types`.

The Cosmos DB account is the Airflow connection ``threatstream_cosmos`` (e.g. the
``AIRFLOW_CONN_THREATSTREAM_COSMOS`` environment variable, or any secrets backend Airflow
is configured with). Exit status: 0 found, 1 not found, 2 invalid value or usage.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from threatstream.canonical import InvalidIndicator, canonical_indicator, refang
from threatstream.vocabulary import IndicatorType

__all__ = ["LookupResult", "candidate_types", "find", "lookup", "main"]

_CVE = re.compile(r"(?i)cve-\d{4}-\d{4,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){19,31}")
_BITCOIN = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{24,33}|(?i:bc1)[0-9a-zA-Z]{11,87}")
_HASH_TYPES: dict[int, tuple[IndicatorType, ...]] = {
    32: (IndicatorType.FILEHASH_MD5, IndicatorType.FILEHASH_IMPHASH, IndicatorType.JA3),
    40: (IndicatorType.FILEHASH_SHA1, IndicatorType.FILEHASH_PEHASH, IndicatorType.SSL_CERT_FINGERPRINT),
    64: (IndicatorType.FILEHASH_SHA256, IndicatorType.SSL_CERT_FINGERPRINT),
}


def candidate_types(value: str) -> tuple[IndicatorType, ...]:
    """The indicator types ``value`` may be stored as, most likely first (may be empty).

    Defanged spellings (``hxxp://``, ``evil[.]example``, ``1.2.3[.]4``) are recognised too.
    """
    text = refang(IndicatorType.URL, value.strip())
    if "://" in text:
        return (IndicatorType.URL,)
    if _CVE.fullmatch(text):
        return (IndicatorType.CVE,)
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
            return (IndicatorType.CIDR,)
        address = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return (IndicatorType.IPV4,) if address.version == 4 else (IndicatorType.IPV6,)
    if "@" in text:
        return (IndicatorType.EMAIL,)
    if _HEX.fullmatch(text) and len(text) in _HASH_TYPES:
        return _HASH_TYPES[len(text)]
    if _FINGERPRINT.fullmatch(text):
        return (IndicatorType.SSL_CERT_FINGERPRINT,)
    if _BITCOIN.fullmatch(text):
        return (IndicatorType.BITCOIN_ADDRESS,)
    if "." in text and not any(ch.isspace() for ch in text):
        return (IndicatorType.DOMAIN, IndicatorType.HOSTNAME)
    return ()


@dataclass
class LookupResult:
    """What a lookup found, what it asked for, and what it cost."""

    record: dict[str, Any] | None
    tried: list[tuple[str, str]] = field(default_factory=list)
    request_charge: float = 0.0


def find(
    value: str,
    type: str | None = None,
    *,
    cosmos_conn_id: str | None = None,
    container_name: str | None = None,
    now: datetime | None = None,
) -> LookupResult:
    """Canonicalise ``value`` and point-read its merged document (see :func:`lookup`)."""
    from threatstream.hooks.merged_store import MergedViewHook
    from threatstream.merged import score_at

    kinds: Sequence[IndicatorType] = (IndicatorType(type),) if type else candidate_types(value)
    if not kinds:
        raise InvalidIndicator("unknown_type", f"cannot tell the indicator type of {value!r}; pass --type")
    canonical: list[tuple[IndicatorType, str]] = []
    errors: list[InvalidIndicator] = []
    for kind in kinds:
        try:
            # The type may change (an absolute URI is a URL, ::ffff:a.b.c.d is IPv4).
            canonical_type, canonical_value, _ = canonical_indicator(kind, value)
            if (canonical_type, canonical_value) not in canonical:
                canonical.append((canonical_type, canonical_value))
        except InvalidIndicator as err:
            errors.append(err)
    if not canonical:
        raise errors[0]
    hook = MergedViewHook(
        *([cosmos_conn_id] if cosmos_conn_id else []), container_name=container_name, max_concurrency=1
    )
    result = LookupResult(record=None)
    for kind, canonical_value in canonical:
        result.tried.append((kind.value, canonical_value))
        document, charge = hook.read_merged(kind.value, canonical_value)
        result.request_charge += charge
        if document is not None:
            record = {key: item for key, item in document.items() if not key.startswith("_")}
            record["current_score"] = score_at(document, now or datetime.now(UTC), hook.policy)
            result.record = record
            break
    return result


def lookup(value: str, type: str | None = None) -> dict[str, Any] | None:
    """The merged record of an indicator value, or None when no source reports it.

    :param value: the value as a SOC analyst has it (any spelling the pipeline canonicalises).
    :param type: the indicator type (``IPv4``, ``domain``, ``URL``, ``FileHash-SHA256`` ...);
        detected from the value when omitted.
    :returns: the merged document (sources, tags, TLP, first/last seen, stored ``score``)
        plus ``current_score``, the score decayed up to now.
    :raises InvalidIndicator: when the value cannot be canonicalised.
    """
    return find(value, type).record


def render_text(result: LookupResult) -> str:
    """A readable account of a lookup."""
    record = result.record
    if record is None:
        tried = ", ".join(f"{kind} {value}" for kind, value in result.tried)
        return f"not found ({tried}); {result.request_charge:g} RU"
    lines = [
        f"{record['indicator_type']} {record['indicator_value']}",
        f"  score      {record['current_score']} now ({record['score']} as of {record['score_as_of']})",
        f"  sources    {record['source_count']}: {', '.join(record['source_names'])}",
        f"  seen       {record['first_seen']} .. {record['last_seen']}",
        f"  expires    {record['expires_at']}",
        f"  tlp        {record.get('tlp') or '-'}",
        f"  tags       {', '.join(record['tags']) or '-'}",
    ]
    for entry in record["sources"]:
        confidence = entry["confidence"] if entry["confidence"] is not None else "-"
        lines.append(
            f"  - {entry['source']}: reported {entry['first_reported']} .. {entry['last_reported']}, "
            f"confidence {confidence}, tlp {entry['tlp'] or '-'}, expires {entry['expires_at']}"
        )
        if entry.get("reference"):
            lines.append(f"      {entry['reference']}")
    lines.append(f"  ({result.request_charge:g} RU, point read of {record['id']})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``threatstream``."""
    parser = argparse.ArgumentParser(prog="threatstream", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lookup_parser = commands.add_parser("lookup", help="look an indicator value up in the merged view")
    lookup_parser.add_argument("value")
    lookup_parser.add_argument("--type", choices=[kind.value for kind in IndicatorType])
    lookup_parser.add_argument("--json", action="store_true", help="print the record as JSON")
    lookup_parser.add_argument("--conn-id", help="Cosmos DB connection (default threatstream_cosmos)")
    lookup_parser.add_argument("--container", help="merged container (default indicators_merged)")
    args = parser.parse_args(argv)
    try:
        result = find(args.value, args.type, cosmos_conn_id=args.conn_id, container_name=args.container)
    except InvalidIndicator as err:
        print(f"threatstream lookup: invalid value: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"record": result.record, "request_charge": result.request_charge}, indent=2))
    else:
        print(render_text(result))
    return 0 if result.record is not None else 1


if __name__ == "__main__":
    sys.exit(main())
