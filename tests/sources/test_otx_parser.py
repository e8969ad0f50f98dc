"""OTX parsing: pure functions over the recorded-shape fixture pages."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.records.indicators import Observation
from threatstream.sources.otx import parse_record, pulse_context, split_records

FIXTURES = Path(__file__).resolve().parents[2] / "include" / "feeds" / "otx"
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _page(name: str, kind: str = "pulses", context: dict[str, Any] | None = None) -> FetchedPage:
    return FetchedPage((FIXTURES / name).read_bytes(), kind, context or {})


def _subscribed_records() -> list[dict[str, Any]]:
    return [dict(r) for n in (1, 2, 3) for r in split_records(_page(f"subscribed_page{n}.json"))]


def _observations() -> dict[str, Observation]:
    parsed = {}
    for record in _subscribed_records():
        try:
            parsed[record["indicator"]["indicator"]] = parse_record(record, {})
        except InvalidIndicator:
            continue
    return parsed


def test_one_record_per_indicator_with_pulse_context() -> None:
    records = _subscribed_records()
    assert len(records) == 36
    first = records[0]
    assert first["pulse"]["id"] == "64e38336d783f91d6948a7b1"
    assert "indicators" not in first["pulse"]


def test_every_otx_type_maps_to_the_vocabulary() -> None:
    types = Counter(o.indicator_type for o in _observations().values())
    assert set(types) == set(IndicatorType)


def test_unknown_type_is_rejected_with_its_reason() -> None:
    (nids,) = [r for r in _subscribed_records() if r["indicator"]["type"] == "NIDS"]
    with pytest.raises(InvalidIndicator) as caught:
        parse_record(nids, {})
    assert caught.value.reason == "unknown_type"
    assert "NIDS" in str(caught.value)


def test_inactive_and_expired_indicators() -> None:
    observations = _observations()
    assert observations["5.188.10.197"].is_expired(NOW)  # is_active: 0 and past expiration
    bitcoin = next(o for o in observations.values() if o.indicator_type is IndicatorType.BITCOIN_ADDRESS)
    assert not bitcoin.is_active  # is_active: "0"
    assert observations["news-portal.example"].is_expired(NOW)  # past expiration, still active
    current = observations["172.67.177.165"]
    assert not current.is_expired(NOW)
    assert current.valid_until is not None
    assert current.valid_until.year == 2099


def test_pulse_context_tlp_spellings_and_timestamps() -> None:
    by_pulse = {o.raw_metadata["pulse_id"]: o for o in _observations().values()}
    assert by_pulse["64e38336d783f91d6948a7b1"].tlp is TLP.CLEAR  # "tlp": "white"
    assert by_pulse["55e6d77d67db8c2a8e8d2f41"].tlp is TLP.GREEN  # legacy "TLP": "green"
    legacy = by_pulse["55e6d77d67db8c2a8e8d2f41"]
    assert legacy.last_seen == datetime(2026, 5, 27, 14, 2, 11, 93000, tzinfo=UTC)  # 3 fraction digits
    whirlpool = by_pulse["64e38336d783f91d6948a7b1"]
    assert whirlpool.raw_metadata["malware_families"] == ["WHIRLPOOL"]
    assert whirlpool.raw_metadata["attack_ids"]
    assert whirlpool.raw_metadata["references"]
    assert "cisa" in whirlpool.tags
    assert all(o.first_seen is not None and o.first_seen.tzinfo is UTC for o in _observations().values())


def test_object_lists_become_names() -> None:
    objects = [
        o for o in _observations().values() if o.raw_metadata["pulse_id"] == "55e6d77d67db8c2a8e8d2f41"
    ]
    assert all(isinstance(name, str) for o in objects for name in o.raw_metadata["malware_families"])


def test_yara_keeps_the_rule_text_and_cidr_v6_is_canonical() -> None:
    observations = _observations()
    yara = next(o for o in observations.values() if o.indicator_type is IndicatorType.YARA)
    assert yara.raw_metadata["indicator_content"].startswith("rule ")
    cidr = observations["2a0d:5600:24::/48"].to_indicator("otx", ingested_at=NOW, default_ttl=NOW - NOW)
    assert cidr.indicator_type is IndicatorType.CIDR
    assert cidr.indicator_value == "2a0d:5600:24::/48"


def test_extra_indicator_pages_carry_their_pulse() -> None:
    pulse = json.loads((FIXTURES / "subscribed_page1.json").read_text())["results"][2]
    assert pulse["more_indicators"] is True
    page = _page(
        "pulse_6651a0c2f1e3b8a0d4c2e901_indicators_page1.json", "pulse_indicators", pulse_context(pulse)
    )
    records = list(split_records(page))
    assert len(records) == 4
    observation = parse_record(records[0], page.context)
    assert observation.raw_metadata["pulse_id"] == pulse["id"]
    assert observation.tlp is TLP.AMBER


def test_a_page_without_results_is_schema_drift() -> None:
    with pytest.raises(FeedFormatError, match="results"):
        list(split_records(FetchedPage(b'{"detail": "Something else"}')))


def test_pulse_facts_follow_the_pulse_each_indicator_carries() -> None:
    """Facts shared by a pulse's indicators are read once per pulse, never reused for another."""
    record = _subscribed_records()[0]
    pulse = copy.deepcopy(record["pulse"])
    first = parse_record({"pulse": pulse, "indicator": record["indicator"]}, {})
    pulse["tags"] = ["changed in place"]  # the same dict, now another pulse
    pulse["tlp"] = "red"
    second = parse_record({"pulse": pulse, "indicator": record["indicator"]}, {})
    assert first.tags != second.tags == ("changed in place",)
    assert second.tlp is TLP.RED
    other = dict(pulse, id="another", name="Another pulse", tlp="purple")
    third = parse_record({"pulse": other, "indicator": record["indicator"]}, {})
    assert third.raw_metadata["pulse_id"] == "another"
    assert third.tlp is None
    assert third.raw_metadata["tlp_label"] == "purple"
