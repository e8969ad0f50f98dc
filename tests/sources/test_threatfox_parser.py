"""ThreatFox parsing: pure functions over the recorded-shape ``get_iocs`` answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from source_batches import fixture_page, ingest
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.threatfox import THREATFOX, parse_record, split_ip_port, split_records


def test_get_iocs_yields_every_type_and_quarantines_bad_iocs() -> None:
    batch = ingest(THREATFOX, fixture_page("threatfox", "get_iocs.json"))
    assert batch.records == 30
    assert len(batch.indicators) == 25  # 30 - 4 rejects - 1 repeat
    assert batch.rejects == {
        "non_global_ip": 1,
        "invalid_hash": 1,
        "unknown_type": 1,
        "invalid_ip": 1,
    }
    values = batch.by_value()
    refanged = values["http://evil-payload.shop/load.php"]
    assert refanged.raw_metadata["original_value"] == "hxxp://evil-payload[.]shop/load.php"
    assert values["2a02:cf40:1::5"].indicator_type is IndicatorType.IPV6
    assert values["2a02:cf40:1::5"].raw_metadata["port"] == 40669
    assert values["2a01:4f8:c0c:7b0e::1"].raw_metadata["port"] == 443  # bracketed [v6]:port
    assert values["91.92.241.103"].raw_metadata["port"] == 7000
    assert values["login-microsoftonline-secure.com"].indicator_type is IndicatorType.DOMAIN
    assert values["http://steamcommunity-gift.ru:8080/claim?id=42"].indicator_type is IndicatorType.URL
    assert values["aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"].indicator_type is IndicatorType.FILEHASH_SHA1
    assert {i.indicator_type for i in batch.indicators.values()} == {
        IndicatorType.IPV4,
        IndicatorType.IPV6,
        IndicatorType.DOMAIN,
        IndicatorType.URL,
        IndicatorType.FILEHASH_MD5,
        IndicatorType.FILEHASH_SHA1,
        IndicatorType.FILEHASH_SHA256,
    }
    assert {i.tlp for i in batch.indicators.values()} == {TLP.CLEAR}


def test_fields_map_to_the_observation() -> None:
    record = {
        "id": "1650003",
        "ioc": "[2a01:4f8:c0c:7b0e::1]:443",
        "threat_type": "botnet_cc",
        "ioc_type": "ip:port",
        "malware": "win.cobalt_strike",
        "malware_printable": "Cobalt Strike",
        "malware_alias": "BEACON,CobaltStrike",
        "malware_malpedia": "https://malpedia.caad.fkie.fraunhofer.de/details/win.cobalt_strike",
        "confidence_level": 75,
        "first_seen": "2026-11-28 08:40:00 UTC",
        "last_seen": None,
        "reference": None,
        "reporter": "abuse_ch",
        "tags": ["c2"],
    }
    observation = parse_record(record, {})
    assert (observation.indicator_type, observation.value) == (IndicatorType.IPV6, "2a01:4f8:c0c:7b0e::1")
    assert observation.confidence == 75
    assert observation.tags == ("c2", "Cobalt Strike")
    assert observation.first_seen == datetime(2026, 11, 28, 8, 40, tzinfo=UTC)
    assert observation.last_seen is None
    assert observation.raw_metadata["port"] == 443
    assert observation.raw_metadata["malware_alias"] == "BEACON,CobaltStrike"
    unknown = parse_record({**record, "malware_printable": "Unknown malware", "tags": None}, {})
    assert unknown.tags == ()
    odd = parse_record({**record, "confidence_level": "high"}, {})
    assert odd.confidence is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3.4:80", ("1.2.3.4", 80)),
        ("2a02:cf40:1::5:40669", ("2a02:cf40:1::5", 40669)),
        ("2a02:cf40:1::5:4066", ("2a02:cf40:1::5", 4066)),  # also a valid address: the type decides
        ("[2a02:cf40:1::5]:443", ("2a02:cf40:1::5", 443)),
        ("1.2.3.4", ("1.2.3.4", None)),
    ],
)
def test_ip_port_is_split_on_the_last_colon(value: str, expected: tuple[str, int | None]) -> None:
    assert split_ip_port(value) == expected


@pytest.mark.parametrize("value", ["1.2.3.4:", "1.2.3.4:http", "1.2.3.4:0", "1.2.3.4:65536"])
def test_bad_ports_are_rejected(value: str) -> None:
    with pytest.raises(InvalidIndicator) as caught:
        split_ip_port(value)
    assert caught.value.reason == "invalid_ip"


def test_no_result_is_an_empty_page_and_other_statuses_fail() -> None:
    no_result = b'{"query_status": "no_result", "data": "Your search did not yield any results"}'
    assert split_records(FetchedPage(no_result)) == []
    with pytest.raises(FeedFormatError):
        split_records(FetchedPage(b'{"query_status": "ok", "data": "oops"}'))
    with pytest.raises(FeedFormatError):
        split_records(FetchedPage(b'{"query_status": "illegal_days"}'))
