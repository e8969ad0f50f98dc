"""Observation -> Indicator: ids, partition keys, timestamps and TTL."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from threatstream.canonical import InvalidIndicator
from threatstream.models import Indicator, Observation, format_utc
from threatstream.vocabulary import TLP, IndicatorType

INGESTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NINETY_DAYS = timedelta(days=90)


def _url(value: str, **kwargs: object) -> Indicator:
    observation = Observation(indicator_type=IndicatorType.URL, value=value, **kwargs)  # type: ignore[arg-type]
    return observation.to_indicator("urlhaus", ingested_at=INGESTED, default_ttl=NINETY_DAYS)


def test_document_fields_and_formats() -> None:
    indicator = _url(
        "HTTP://Evil.Example.COM:80/a/b?x=%2f#frag",
        tags=("elf", " Mozi ", "elf", ""),
        tlp=TLP.CLEAR,
        first_seen=datetime(2021, 10, 5, 13, 54, 10),
        raw_metadata={"threat": "malware_download"},
    )
    document = indicator.to_document()
    value = "http://evil.example.com/a/b?x=%2F#frag"
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert document["indicator_value"] == value
    assert document["id"] == f"urlhaus:URL:{digest}"
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,255}", document["id"])
    assert "/" not in document["id"]
    assert document["partition_key"] == f"URL_{digest[:2]}"
    assert document["tags"] == ["Mozi", "elf"]
    assert document["tlp"] == "clear"
    assert document["first_seen"] == "2021-10-05T13:54:10Z"
    assert document["ingested_at"] == "2026-11-28T10:00:00Z"
    assert document["valid_until"] is None
    assert document["ttl"] == int(NINETY_DAYS.total_seconds())
    assert document["raw_metadata"] == {"threat": "malware_download"}


def test_same_indicator_in_other_spelling_gets_same_id() -> None:
    assert _url("http://EVIL.example.com/x").id == _url("http://evil.example.com:80/x").id


def test_ttl_never_outlives_valid_until() -> None:
    valid_until = INGESTED + timedelta(days=2)
    indicator = _url("http://evil.example.com/", valid_until=valid_until)
    assert indicator.ttl == 2 * 86400
    assert indicator.to_document()["valid_until"] == "2026-11-30T10:00:00Z"


def test_expiry() -> None:
    past = Observation(
        indicator_type=IndicatorType.IPV4, value="1.1.1.1", valid_until=INGESTED - timedelta(seconds=1)
    )
    inactive = Observation(indicator_type=IndicatorType.IPV4, value="1.1.1.1", is_active=False)
    current = Observation(
        indicator_type=IndicatorType.IPV4, value="1.1.1.1", valid_until=INGESTED + timedelta(hours=1)
    )
    assert past.is_expired(INGESTED)
    assert inactive.is_expired(INGESTED)
    assert not current.is_expired(INGESTED)


def test_invalid_value_raises_with_reason() -> None:
    with pytest.raises(InvalidIndicator) as caught:
        _url("   ")
    assert caught.value.reason == "empty"


def test_confidence_bounds() -> None:
    with pytest.raises(ValueError, match="confidence"):
        Observation(indicator_type=IndicatorType.IPV4, value="1.1.1.1", confidence=101)


def test_format_utc_converts_offsets() -> None:
    from datetime import timezone

    assert (
        format_utc(datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-01T00:00:00Z"
    )
