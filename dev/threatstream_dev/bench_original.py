"""The original design's validation loop, re-implemented faithfully as the benchmark's baseline.

One ``json.loads`` per page, then per record: build one pydantic model in ``try/except``
(a rejected record is only counted), dump it and write it with ``json.dumps``. It does none
of ThreatStream's canonicalisation (URL and IDNA forms, global-address checks, expiry,
de-duplication), which is what makes it the bar to beat.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError


class OriginalIndicator(BaseModel):
    """The original stored document: a type, a stripped value, a hash id."""

    id: str
    source: str
    indicator_type: str
    value: str = Field(min_length=1)
    confidence: int | None = Field(default=None, ge=0, le=100)
    tags: list[str] = Field(default_factory=list)
    first_seen: datetime | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


def _records(source: str, body: Any) -> Iterator[dict[str, Any]]:
    if source == "urlhaus":
        yield from body["urls"]
    elif source == "otx":
        for pulse in body["results"]:
            for indicator in pulse["indicators"]:
                yield {"pulse_tags": pulse.get("tags", []), **indicator}
    else:
        yield from body["data"]


def _fields(source: str, record: dict[str, Any]) -> dict[str, Any]:
    if source == "urlhaus":
        value, kind = record["url"], "URL"
        extra = {"tags": record.get("tags") or [], "first_seen": record["date_added"].replace(" UTC", "Z")}
    elif source == "otx":
        value, kind = record["indicator"], record["type"]
        extra = {"tags": record.get("pulse_tags") or [], "first_seen": record.get("created")}
    else:
        value, kind = record["ipAddress"], "IPv4"
        extra = {"confidence": record.get("abuseConfidenceScore")}
    value = str(value).strip()
    return {
        "id": f"{source}:{hashlib.sha256(value.encode()).hexdigest()}",
        "source": source,
        "indicator_type": kind,
        "value": value,
        "raw": record,
        **extra,
    }


def original_validate(source: str, pages: list[Path], out: Path) -> tuple[int, int]:
    """Validate raw pages the original way; returns (records, valid)."""
    records = valid = 0
    with out.open("w", encoding="utf-8") as handle:
        for page in pages:
            body = json.loads(page.read_bytes())
            for record in _records(source, body):
                records += 1
                try:
                    indicator = OriginalIndicator(**_fields(source, record))
                except (ValidationError, KeyError, TypeError, AttributeError):
                    continue
                handle.write(json.dumps(indicator.model_dump(mode="json")) + "\n")
                valid += 1
    return records, valid
