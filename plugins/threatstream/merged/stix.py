"""Merged documents as STIX 2.1 objects (plain JSON-ready dicts; pure functions).

Each merged document becomes one ``indicator`` (a CVE: one ``vulnerability``) created by
the ThreatStream ``identity``, marked with the TLP 2.0 marking definition of its strictest
TLP, carrying the score as ``confidence`` and ``x_threatstream_score``, its tags as
``labels``, and one external reference plus one ``x_threatstream_sources`` entry per source.
Ids are UUIDv5 of the merged document's id, so re-exports of a value keep its STIX id and a
consumer updates the object (newer ``modified``) instead of duplicating it.

Patterns are built from the canonical value with STIX patterning string escaping
(backslash and single quote); types without a faithful STIX Cyber-observable mapping
(:data:`UNSUPPORTED`) are not exported.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from threatstream.canonical.vocabulary import TLP, TLP2_MARKING_IDS
from threatstream.merged.merge import score_at
from threatstream.merged.scoring import DEFAULT_POLICY, ScoringPolicy
from threatstream.parsing.timestamps import format_utc, parse_timestamp

#: Namespace of ThreatStream's deterministic STIX ids.
STIX_NAMESPACE = uuid.UUID("9b0f6a8e-3f5d-5c4e-8a47-1f2e3d4c5b6a")
IDENTITY_ID = f"identity--{uuid.uuid5(STIX_NAMESPACE, 'threatstream')}"
TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

#: Indicator type -> STIX pattern object path (the value goes on the right-hand side).
PATTERN_PATHS: Mapping[str, str] = {
    "IPv4": "ipv4-addr:value",
    "IPv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "hostname": "domain-name:value",
    "URL": "url:value",
    "email": "email-addr:value",
    "FileHash-MD5": "file:hashes.MD5",
    "FileHash-SHA1": "file:hashes.'SHA-1'",
    "FileHash-SHA256": "file:hashes.'SHA-256'",
    "FileHash-IMPHASH": "file:extensions.'windows-pebinary-ext'.imphash",
    "Mutex": "mutex:name",
}
#: Types with no faithful STIX 2.1 observable; left out of the export (and counted).
UNSUPPORTED = frozenset({"URI", "FilePath", "FileHash-PEHASH", "JA3", "osquery", "BitcoinAddress"})


def escape_pattern_string(value: str) -> str:
    """A value as a STIX patterning string literal: quoted, ``\\`` and ``'`` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(indicator_type: str, value: str) -> tuple[str, str] | None:
    """``(pattern, pattern_type)`` of a canonical value, or None when not exportable."""
    if indicator_type == "YARA":
        return value, "yara"
    if indicator_type == "CIDR":
        path = "ipv6-addr:value" if ":" in value else "ipv4-addr:value"
    elif indicator_type == "SSLCertFingerprint":
        path = "x509-certificate:hashes.'SHA-1'" if len(value) == 40 else "x509-certificate:hashes.'SHA-256'"
    else:
        found = PATTERN_PATHS.get(indicator_type)
        if found is None:
            return None
        path = found
    return f"[{path} = {escape_pattern_string(value)}]", "stix"


def identity() -> dict[str, Any]:
    """The ``identity`` that creates every exported object."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": IDENTITY_ID,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "ThreatStream",
        "identity_class": "system",
    }


def tlp_marking(label: str) -> dict[str, Any]:
    """The TLP 2.0 ``marking-definition`` of a TLP label."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[TLP(label)],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{label.upper()}",
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": label}},
    }


def _external_references(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    references = []
    for entry in document["sources"]:
        reference: dict[str, Any] = {
            "source_name": f"threatstream:{entry['source']}",
            "external_id": entry["document_id"],
        }
        if entry.get("reference"):
            reference["url"] = entry["reference"]
        references.append(reference)
    return references


def _sources(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = ("source", "first_reported", "last_reported", "confidence", "tlp", "tags", "expires_at")
    return [{key: entry[key] for key in keys if entry.get(key) is not None} for entry in document["sources"]]


def _required_time(document: Mapping[str, Any], key: str) -> datetime:
    value = parse_timestamp(document.get(key))
    if value is None:
        raise ValueError(f"merged document {document.get('id')} has no {key}")
    return value


def to_stix(
    document: Mapping[str, Any], at: datetime, policy: ScoringPolicy = DEFAULT_POLICY
) -> dict[str, Any] | None:
    """The STIX object of one merged document (score as of ``at`` under ``policy``); None when
    not exportable."""
    kind, value = str(document["indicator_type"]), str(document["indicator_value"])
    updated, first_seen, expires_at = (
        _required_time(document, key) for key in ("updated_at", "first_seen", "expires_at")
    )
    current = score_at(document, at, policy)
    created = min(first_seen, updated)
    common: dict[str, Any] = {
        "spec_version": "2.1",
        "created": format_utc(created, "milliseconds"),
        "modified": format_utc(updated, "milliseconds"),
        "created_by_ref": IDENTITY_ID,
        "confidence": round(current),
        "external_references": _external_references(document),
        "x_threatstream_score": current,
        "x_threatstream_source_count": document["source_count"],
        "x_threatstream_sources": _sources(document),
    }
    if document.get("tags"):
        common["labels"] = list(document["tags"])
    if document.get("tlp"):
        common["object_marking_refs"] = [TLP2_MARKING_IDS[document["tlp"]]]
    stix_id = uuid.uuid5(STIX_NAMESPACE, str(document["id"]))
    if kind == "CVE":
        references = [{"source_name": "cve", "external_id": value}, *common.pop("external_references")]
        return {
            "type": "vulnerability",
            "id": f"vulnerability--{stix_id}",
            "name": value,
            "external_references": references,
            **common,
        }
    pattern = pattern_for(kind, value)
    if pattern is None:
        return None
    indicator = {
        "type": "indicator",
        "id": f"indicator--{stix_id}",
        "name": f"{kind} {value}"[:256],
        "indicator_types": ["malicious-activity"],
        "pattern": pattern[0],
        "pattern_type": pattern[1],
        "valid_from": format_utc(first_seen, "milliseconds"),
        **common,
    }
    if pattern[1] == "stix":
        indicator["pattern_version"] = "2.1"
    if expires_at > first_seen:
        indicator["valid_until"] = format_utc(expires_at, "milliseconds")
    return indicator
