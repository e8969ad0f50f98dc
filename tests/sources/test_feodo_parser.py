"""Feodo Tracker parsing: pure functions over the recorded-shape JSON blocklist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from source_batches import fixture_page, ingest
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.feodo import FEODO, parse_record, split_records


def test_the_blocklist_yields_typed_ips_and_quarantines_bad_entries() -> None:
    batch = ingest(FEODO, fixture_page("feodo", "ipblocklist.json"))
    assert batch.records == 19
    assert len(batch.indicators) == 16  # 19 - 2 rejects - 1 second port of the same C2
    assert batch.rejects == {"invalid_ip": 1, "non_global_ip": 1}  # "None"; private
    values = batch.by_value()
    assert values["45.61.136.59"].raw_metadata["original_value"] == "45.61.136[.]59"  # refanged
    assert values["2a01:4f8:222:1e8c::2"].indicator_type is IndicatorType.IPV6
    assert values["50.16.16.211"].indicator_type is IndicatorType.IPV4
    assert {i.tlp for i in batch.indicators.values()} == {TLP.CLEAR}


def test_fields_map_to_the_document() -> None:
    entry = {
        "ip_address": "50.16.16.211",
        "port": 443,
        "status": "online",
        "hostname": None,
        "as_number": 14618,
        "as_name": "AMAZON-AES",
        "country": "US",
        "first_seen": "2025-12-30 13:56:31",
        "last_online": "2026-03-12",
        "malware": "QakBot",
    }
    observation = parse_record(entry, {})
    assert observation.first_seen == datetime(2025, 12, 30, 13, 56, 31, tzinfo=UTC)
    assert observation.last_seen == datetime(2026, 3, 12, tzinfo=UTC)  # a date: that day, 00:00 UTC
    assert observation.tags == ("QakBot",)
    assert observation.raw_metadata == {
        "port": 443,
        "status": "online",
        "hostname": None,
        "as_number": 14618,
        "as_name": "AMAZON-AES",
        "country": "US",
        "malware": "QakBot",
        "last_online": "2026-03-12",
    }


def test_missing_first_seen_and_null_last_online_are_none() -> None:
    observation = parse_record({"ip_address": "138.197.14.67", "last_online": None, "malware": None}, {})
    assert (observation.first_seen, observation.last_seen, observation.tags) == (None, None, ())


@pytest.mark.parametrize("body", [b'{"ip_address": "1.2.3.4"}', b"<html>busy</html>"])
def test_a_page_that_is_not_a_json_list_fails_the_batch(body: bytes) -> None:
    with pytest.raises(FeedFormatError):
        split_records(FetchedPage(body))
