"""One STIX 2.1 indicator -> one observation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threatstream.canonical.errors import InvalidIndicator
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.taxii.patterns import pattern_observable

KEPT_FIELDS = ("id", "name", "indicator_types", "pattern", "created", "modified", "created_by_ref")


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One STIX 2.1 indicator -> one observation (or ``unsupported_pattern``)."""
    indicator: Mapping[str, Any] = record["indicator"]
    pattern_type = indicator.get("pattern_type", "stix")
    if pattern_type != "stix":
        raise InvalidIndicator("unsupported_pattern", f"pattern_type {pattern_type!r} is not a STIX pattern")
    found = pattern_observable(indicator.get("pattern"))
    metadata: dict[str, Any] = {key: indicator.get(key) for key in KEPT_FIELDS}
    metadata.update({key: context.get(key) for key in ("api_root", "collection")})
    metadata.update(found.facts)
    labels: list[str] = list(record.get("tlp_labels") or [])
    confidence = indicator.get("confidence")
    return new_observation(
        {
            "indicator_type": found.indicator_type,
            "value": found.value,
            "confidence": confidence if isinstance(confidence, int) and 0 <= confidence <= 100 else None,
            "tags": string_list(indicator.get("labels")),
            # The label as marked; Observation maps it (an unknown one is kept as raw metadata).
            "tlp": labels[0] if labels else None,
            "first_seen": parse_timestamp(indicator.get("valid_from")),
            "last_seen": parse_timestamp(indicator.get("modified")),
            "valid_until": parse_timestamp(indicator.get("valid_until")),
            "is_active": indicator.get("revoked") is not True,
            "raw_metadata": metadata,
        }
    )
