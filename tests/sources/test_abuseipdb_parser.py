"""AbuseIPDB parsing: pure functions over the recorded-shape blacklist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.abuseipdb import parse_record, split_records

BLACKLIST = Path(__file__).resolve().parents[2] / "include" / "feeds" / "abuseipdb" / "blacklist.json"
INGESTED = datetime(2026, 6, 1, tzinfo=UTC)
CONTEXT = {"generated_at": "2026-05-30T00:00:00+00:00"}


def test_rows_are_typed_by_their_real_ip_version() -> None:
    rows = list(split_records(FetchedPage(BLACKLIST.read_bytes())))
    observations = [parse_record(row, CONTEXT) for row in rows]
    by_type = {o.indicator_type for o in observations}
    assert by_type == {IndicatorType.IPV4, IndicatorType.IPV6}
    for observation in observations:
        assert (":" in observation.value) == (observation.indicator_type is IndicatorType.IPV6)
    assert sum(o.indicator_type is IndicatorType.IPV6 for o in observations) == 6


def test_fields_map_and_null_country_is_kept() -> None:
    row = {
        "ipAddress": "2A01:4F8:C17:1:0:0:0:1",
        "countryCode": None,
        "abuseConfidenceScore": 87,
        "lastReportedAt": "2026-05-30T07:42:11+00:00",
    }
    observation = parse_record(row, CONTEXT)
    assert observation.indicator_type is IndicatorType.IPV6
    assert observation.confidence == 87
    assert observation.last_seen == datetime(2026, 5, 30, 7, 42, 11, tzinfo=UTC)
    assert observation.raw_metadata["countryCode"] is None
    assert observation.raw_metadata["generatedAt"] == CONTEXT["generated_at"]
    indicator = observation.to_indicator("abuseipdb", ingested_at=INGESTED, default_ttl=timedelta(days=7))
    assert indicator.indicator_value == "2a01:4f8:c17:1::1"
    assert indicator.ttl == 7 * 86400


@pytest.mark.parametrize(
    ("address", "reason"), [("", "empty"), ("10.1.2.3", "non_global_ip"), ("not-an-ip", "invalid_ip")]
)
def test_bad_rows_are_rejected_with_a_reason(address: str, reason: str) -> None:
    def ingest() -> None:
        observation = parse_record({"ipAddress": address, "abuseConfidenceScore": 100}, CONTEXT)
        observation.to_indicator("abuseipdb", ingested_at=INGESTED, default_ttl=timedelta(days=7))

    with pytest.raises(InvalidIndicator) as caught:
        ingest()
    assert caught.value.reason == reason
