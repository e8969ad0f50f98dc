"""MISP attributes -> observations: the type map, composites, TLP tags, timestamps, what is refused."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.misp.events import EVENT_PAGE, STATE_PAGE, split_event
from threatstream.sources.misp.mapping import Rules, epoch, parse_attribute, tlp_of

FIXTURES = Path(__file__).resolve().parents[2] / "include" / "feeds" / "misp_circl"
DEFAULT_RULES = Rules()
MD5 = "8b1a9953c4611296a827abf8c47804d7"
EVENT = {"uuid": "5e8f3c2a-1b4d-4f6e-9a2c-0d1e2f3a4b5c", "date": "2025-11-27", "tags": ["tlp:green", "apt"]}


def _attribute(kind: str, value: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "to_ids": True, "timestamp": "1764320400", **fields}


def _parse(attribute: Mapping[str, Any], part: int | None = None, rules: Rules = DEFAULT_RULES) -> Any:
    record: dict[str, Any] = {"attribute": attribute, "object": None, "object_deleted": False}
    if part is not None:
        record["part"] = part
    return parse_attribute(record, EVENT, rules)


@pytest.mark.parametrize(
    ("kind", "value", "expected_type", "expected_value"),
    [
        ("ip-dst", "185.244.25.112", IndicatorType.IPV4, "185.244.25.112"),
        ("ip-src", "2a02:4780:12:3456::1", IndicatorType.IPV6, "2a02:4780:12:3456::1"),
        ("ip-dst", "80.66.88.0/24", IndicatorType.CIDR, "80.66.88.0/24"),
        ("ip-dst|port", "185.244.25.112|8080", IndicatorType.IPV4, "185.244.25.112"),
        ("ip-src|port", "2a02:4780:12:3456::1|443", IndicatorType.IPV6, "2a02:4780:12:3456::1"),
        ("domain", "invoice-docs-secure.com", IndicatorType.DOMAIN, "invoice-docs-secure.com"),
        ("hostname", "cdn.officeupdate-service.org", IndicatorType.HOSTNAME, "cdn.officeupdate-service.org"),
        ("hostname|port", "login.example-bank.net|8443", IndicatorType.HOSTNAME, "login.example-bank.net"),
        (
            "url",
            "http://invoice-docs-secure.com/a.php",
            IndicatorType.URL,
            "http://invoice-docs-secure.com/a.php",
        ),
        ("md5", "8b1a9953c4611296a827abf8c47804d7", IndicatorType.FILEHASH_MD5, None),
        ("sha1", "5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b", IndicatorType.FILEHASH_SHA1, None),
        ("filename|sha256", "a.exe|" + "ab" * 32, IndicatorType.FILEHASH_SHA256, "ab" * 32),
        ("filename|md5", "a.exe|8b1a9953c4611296a827abf8c47804d7", IndicatorType.FILEHASH_MD5, MD5),
        ("malware-sample", "a.exe|8b1a9953c4611296a827abf8c47804d7", IndicatorType.FILEHASH_MD5, MD5),
        ("imphash", "f34d5f2d4577ed6d9ceec516c1f5a744", IndicatorType.FILEHASH_IMPHASH, None),
        ("email-src", "billing@paypal-account-review.net", IndicatorType.EMAIL, None),
        ("email-dst", "desk@protonmail.com", IndicatorType.EMAIL, None),
        ("ja3-fingerprint-md5", "72a589da586844d7f0818ce684948eea", IndicatorType.JA3, None),
        ("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", IndicatorType.BITCOIN_ADDRESS, None),
        ("vulnerability", "CVE-2017-11882", IndicatorType.CVE, None),
        ("mutex", "Global\\M7x3fQ2Lk", IndicatorType.MUTEX, None),
        ("yara", "rule a { condition: true }", IndicatorType.YARA, None),
        ("x509-fingerprint-sha256", "cd" * 32, IndicatorType.SSL_CERT_FINGERPRINT, None),
        ("filename", "Rechnung.docm", IndicatorType.FILEPATH, None),
    ],
)
def test_maps_misp_types_to_canonical_types(
    kind: str, value: str, expected_type: IndicatorType, expected_value: str | None
) -> None:
    observation = _parse(_attribute(kind, value))
    assert observation.indicator_type is expected_type
    assert observation.value == (expected_value or value)


def test_a_composite_keeps_its_other_part_and_domain_ip_is_two_indicators() -> None:
    port = _parse(_attribute("ip-dst|port", "185.244.25.112|8080"))
    assert port.raw_metadata["port"] == "8080"
    named = _parse(_attribute("filename|sha1", "invoice.js|" + "9f" * 20))
    assert named.raw_metadata["filename"] == "invoice.js"
    pair = _attribute("domain|ip", "invoice-docs-secure.com|91.215.85.147")
    domain, address = _parse(pair, 0), _parse(pair, 1)
    assert (domain.indicator_type, domain.raw_metadata["ip"]) == (IndicatorType.DOMAIN, "91.215.85.147")
    assert (address.indicator_type, address.raw_metadata["domain"]) == (
        IndicatorType.IPV4,
        "invoice-docs-secure.com",
    )


@pytest.mark.parametrize(
    ("attribute", "reason"),
    [
        (_attribute("AS", "AS58061"), "unsupported_type"),
        (_attribute("sha512", "ab" * 64), "unsupported_type"),
        (_attribute("ip-dst", "103.75.201.4", deleted=True), "deleted"),
        (_attribute("ip-dst|port", "185.244.25.112"), "malformed_attribute"),
        (_attribute("ip-dst", ""), "malformed_attribute"),
        (_attribute("ip-dst", "185.244.25.112", timestamp="yesterday"), "malformed_attribute"),
        (_attribute("ip-dst", "not-an-ip"), "invalid_ip"),
    ],
)
def test_what_cannot_be_mapped_fails_with_a_reason(attribute: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidIndicator) as raised:
        _parse(attribute)
    assert raised.value.reason == reason


def test_an_attribute_of_a_deleted_object_is_deleted() -> None:
    record = {"attribute": _attribute("md5", "8b1a9953c4611296a827abf8c47804d7"), "object_deleted": True}
    with pytest.raises(InvalidIndicator, match="its object is deleted"):
        parse_attribute(record, EVENT, Rules())


def test_the_attribute_tlp_wins_then_the_event_then_the_spec() -> None:
    assert _parse(_attribute("domain", "a-b.com", Tag=[{"name": "tlp:amber+strict"}])).tlp is TLP.AMBER_STRICT
    assert _parse(_attribute("domain", "a-b.com")).tlp is TLP.GREEN
    untagged = parse_attribute(
        {"attribute": _attribute("domain", "a-b.com")}, {"tags": []}, Rules(tlp=TLP.CLEAR)
    )
    assert untagged.tlp is TLP.CLEAR
    assert tlp_of(["tlp:white", "tlp:red", "tlp:green"]) == (TLP.RED, None)
    assert tlp_of(["tlp:ex:chr"]) == (None, "tlp:ex:chr")
    unknown = _parse(_attribute("domain", "a-b.com", Tag=[{"name": "tlp:ex:chr"}]))
    assert (unknown.tlp, unknown.raw_metadata["tlp_label"]) == (None, "tlp:ex:chr")


def test_tags_exclude_tlp_and_join_the_event_the_attribute_and_the_spec() -> None:
    observation = parse_attribute(
        {"attribute": _attribute("domain", "a-b.com", Tag=[{"name": "c2"}, {"name": "tlp:red"}])},
        EVENT,
        Rules(static_tags=("misp-feed:x",)),
    )
    assert observation.tags == ("apt", "c2", "misp-feed:x")


def test_decay_timestamps() -> None:
    seen = _parse(
        _attribute(
            "domain",
            "a-b.com",
            first_seen="2025-11-27T08:00:00.000000+00:00",
            last_seen="2025-11-28T06:30:00.000000+00:00",
        )
    )
    assert seen.first_seen == datetime(2025, 11, 27, 8, tzinfo=UTC)
    assert seen.last_seen == datetime(2025, 11, 28, 6, 30, tzinfo=UTC)
    plain = _parse(_attribute("domain", "a-b.com"))
    assert plain.first_seen == datetime(2025, 11, 27, tzinfo=UTC)  # the event's date
    assert plain.last_seen == epoch("1764320400") == datetime(2025, 11, 28, 9, tzinfo=UTC)


def _event_page(name: str, kind: str = EVENT_PAGE) -> FetchedPage:
    return FetchedPage((FIXTURES / name).read_bytes(), kind, {"uuid": name})


def test_streams_attributes_and_object_attributes_skipping_to_ids_false() -> None:
    records = list(split_event(_event_page("6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d.json"), Rules()))
    values = [r["attribute"]["value"] for r in records]
    assert "Rechnung_2811.docm" not in values  # to_ids false
    assert len(records) == 8
    in_object = [r for r in records if r["object"]]
    assert [r["object"]["name"] for r in in_object] == ["file", "file", "domain-ip", "domain-ip"]
    everything = list(
        split_event(_event_page("6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d.json"), Rules(to_ids_only=False))
    )
    assert len(everything) == 9


def test_a_deleted_object_marks_its_attributes_and_a_pair_is_two_records() -> None:
    records = list(split_event(_event_page("7b2c3d4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e.json"), Rules()))
    assert [r["object_deleted"] for r in records if r["object"]] == [True]
    first = list(split_event(_event_page("5e8f3c2a-1b4d-4f6e-9a2c-0d1e2f3a4b5c.json"), Rules()))
    assert [r["part"] for r in first if r["attribute"]["type"] == "domain|ip"] == [0, 1]


def test_a_state_page_has_no_records_and_a_non_event_is_refused() -> None:
    assert list(split_event(FetchedPage(b'{"format": "x"}', STATE_PAGE), Rules())) == []
    with pytest.raises(FeedFormatError, match="not a MISP event"):
        list(split_event(FetchedPage(b'{"response": []}', EVENT_PAGE), Rules()))
    with pytest.raises(FeedFormatError, match="not valid JSON"):
        list(split_event(FetchedPage(b'{"Event": {"Attribute": [', EVENT_PAGE), Rules()))
