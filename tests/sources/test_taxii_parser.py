"""TAXII 2.1 / STIX 2.1 parsing: single-comparison patterns to canonical types, the rest quarantined."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from source_batches import fixture_page, ingest
from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.taxii import TAXII
from threatstream.sources.taxii.envelope import split_records
from threatstream.sources.taxii.parse import parse_record
from threatstream.sources.taxii.patterns import pattern_observable

AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"


def pages() -> list[FetchedPage]:
    return [fixture_page("taxii", f"objects_page{n}.json", "envelope", collection="c") for n in (1, 2, 3)]


def test_the_collection_pages_yield_typed_indicators() -> None:
    batch = ingest(TAXII, *pages(), at=AT)
    assert batch.records == 25  # indicators only: identity, malware, marking, relationship are skipped
    assert batch.rejects == {"unsupported_pattern": 3}
    assert batch.expired == 2  # one revoked, one past valid_until
    assert len(batch.indicators) == 20
    values = batch.by_value()
    # A defanged pattern value is refanged, the original kept.
    refanged = values["http://defanged.example/x"]
    assert refanged.raw_metadata["original_value"] == "hxxp://defanged[.]example/x"
    assert values["91.243.44.0/24"].indicator_type is IndicatorType.CIDR
    assert values["2a01:4f8:13b:2b85::/64"].indicator_type is IndicatorType.CIDR
    assert values["2a0b:4140:da9e::2"].indicator_type is IndicatorType.IPV6
    assert values["billing@invoices-portal.com"].indicator_type is IndicatorType.EMAIL
    assert values["https://files-cdn.net/it's-free.exe"].indicator_type is IndicatorType.URL
    assert values["mail-secure-gateway.com"].indicator_type is IndicatorType.DOMAIN
    c2 = values["45.137.21.9"]
    assert (c2.tlp, c2.confidence, c2.tags) == (TLP.AMBER, 85, ["c2", "qakbot"])
    assert c2.first_seen == datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC)
    assert c2.valid_until == datetime(2028, 2, 28, tzinfo=UTC)
    assert values["secure-docs-share.com"].tlp is TLP.GREEN  # TLP 1.0 marking id
    purple = values["login-office365-verify.net"]
    assert purple.tlp is None
    assert purple.raw_metadata["tlp_label"] == "TLP:PURPLE"  # a page-defined TLP marking we do not know


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '45.1.2.3']", (IndicatorType.IPV4, "45.1.2.3")),
        ("[ipv4-addr:value='45.1.2.0/24']", (IndicatorType.CIDR, "45.1.2.0/24")),
        ("[ ipv6-addr:value = '2a00::1' ]", (IndicatorType.IPV6, "2a00::1")),
        ("[domain-name:value = 'evil.com']", (IndicatorType.DOMAIN, "evil.com")),
        ("[url:value = 'http://a.com/it\\'s']", (IndicatorType.URL, "http://a.com/it's")),
        ("[email-addr:value = 'a@b.com']", (IndicatorType.EMAIL, "a@b.com")),
        ("[file:hashes.'SHA-256' = 'ab']", (IndicatorType.FILEHASH_SHA256, "ab")),
        ("[file:hashes.'SHA-1' = 'ab']", (IndicatorType.FILEHASH_SHA1, "ab")),
        ("[file:hashes.SHA1 = 'ab']", (IndicatorType.FILEHASH_SHA1, "ab")),
        ("[file:hashes.MD5 = 'ab']", (IndicatorType.FILEHASH_MD5, "ab")),
    ],
)
def test_single_comparisons_map_to_canonical_types(pattern: str, expected: tuple[IndicatorType, str]) -> None:
    assert pattern_observable(pattern)[:2] == expected


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '1.1.1.2']", "separate indicator"),
        (
            "[ipv4-addr:value = '1.1.1.1'] AND [domain-name:value = 'x.com']",
            "several observations joined by AND",
        ),
        ("[ipv4-addr:value = '1.1.1.1'] FOLLOWEDBY [domain-name:value = 'x.com']", "FOLLOWEDBY"),
        (
            "[domain-name:value = 'x.com'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
            "qualifier",
        ),
        ("[ipv4-addr:value = '1.1.1.1'] WITHIN 5 SECONDS", "qualifier"),
        ("[ipv4-addr:value != '1.1.1.1']", "condition"),
        ("[ipv4-addr:value NOT = '1.1.1.1']", "condition"),
        ("[domain-name:value LIKE '%.evil.com']", "LIKE"),
        ("[url:value MATCHES '^http://evil']", "MATCHES"),
        ("[file:size > 10]", "range"),
        ("[ipv4-addr:value IN ('1.1.1.1', '1.1.1.2')]", "IN"),
        (
            "[file:hashes.MD5 = '83f1535f99ab0bf4e9d02dfd85d3e3f7' OR ipv4-addr:value = '1.1.1.1']",
            "several objects",
        ),
        ("[file:hashes.MD5 = 'aa' OR file:hashes.MD5 = 'bb']", "several files"),
        ("[file:hashes.MD5 = 'aa' OR file:name = 'x.exe']", "not one file"),
        ("[file:hashes.MD5 = 'aa' AND (file:hashes.SHA1 = 'bb' OR file:name = 'x')]", "mixing AND and OR"),
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.7'"
            " AND network-traffic:src_ref.value = '203.0.113.9']",
            "2 endpoints",
        ),
        ("[network-traffic:dst_ref.value = '198.51.100.7']", "not a supported observable"),
        ("[network-traffic:dst_ref.type = 'mac-addr' AND network-traffic:dst_ref.value = 'aa']", ".type"),
        (
            "[domain-name:value = 'x.com' AND domain-name:resolves_to_refs[*].value = '1.2.3.4'"
            " AND domain-name:value = 'y.com']",
            "only its value",
        ),
        ("[file:name = 'invoice.exe']", "file:name"),
        ("[file:hashes.'SHA-512' = 'ab']", "SHA-512"),
        ("[mutex:name = 'Global\\\\x']", "mutex:name"),
        # Only \' and \\ are escapes in STIX: any other backslash makes the pattern invalid.
        ("[url:value = 'http://evil.example.net/\\n']", "not a valid STIX pattern"),
        ("[url:value = 'http://evil.example.net/\\x41']", "not a valid STIX pattern"),
        ("[ipv4-addr:value = '1.1.1.1'", "not a valid STIX pattern"),
        ("", "no pattern"),
    ],
)
def test_other_patterns_are_unsupported_with_a_reason(pattern: str, why: str) -> None:
    with pytest.raises(InvalidIndicator) as caught:
        pattern_observable(pattern)
    assert caught.value.reason == "unsupported_pattern"
    assert why in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # Whitespace around ':' and '=' is valid STIX.
        ("[ipv4-addr : value = '8.8.8.8']", (IndicatorType.IPV4, "8.8.8.8", {})),
        ("[ipv4-addr: value='8.8.8.8']", (IndicatorType.IPV4, "8.8.8.8", {})),
        ("[url:value = 'http://a.example/x\\\\y\\'z']", (IndicatorType.URL, "http://a.example/x\\y'z", {})),
        ("([domain-name:value = 'evil.example'])", (IndicatorType.DOMAIN, "evil.example", {})),
        ("[(domain-name:value = 'evil.example')]", (IndicatorType.DOMAIN, "evil.example", {})),
        # MISP ip-dst / ip-src / ip-dst|port.
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.7']",
            (IndicatorType.IPV4, "198.51.100.7", {"network_traffic": {"ref": "dst_ref"}}),
        ),
        (
            "[network-traffic:src_ref.type = 'ipv6-addr' AND network-traffic:src_ref.value = '2001:db8::1']",
            (IndicatorType.IPV6, "2001:db8::1", {"network_traffic": {"ref": "src_ref"}}),
        ),
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND "
            "network-traffic:dst_ref.value = '198.51.100.0/24'"
            " AND network-traffic:dst_port = '8443']",
            (
                IndicatorType.CIDR,
                "198.51.100.0/24",
                {"network_traffic": {"ref": "dst_ref", "dst_port": "8443"}},
            ),
        ),
        (
            "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'c2.example'"
            " AND network-traffic:dst_port = 443]",
            (IndicatorType.DOMAIN, "c2.example", {"network_traffic": {"ref": "dst_ref", "dst_port": 443}}),
        ),
        # Several hashes of one file: the strongest is the indicator, all are kept.
        (
            "[file:hashes.MD5 = '83f1535f99ab0bf4e9d02dfd85d3e3f7' OR "
            "file:hashes.'SHA-256' = '628b49d96dcde97a430dd4f597705899e09a968f793491e4b704cae33a40dc02']",
            (
                IndicatorType.FILEHASH_SHA256,
                "628b49d96dcde97a430dd4f597705899e09a968f793491e4b704cae33a40dc02",
                {
                    "file_hashes": {
                        "MD5": "83f1535f99ab0bf4e9d02dfd85d3e3f7",
                        "SHA-256": "628b49d96dcde97a430dd4f597705899e09a968f793491e4b704cae33a40dc02",
                    }
                },
            ),
        ),
        (
            "[file:hashes.'SHA-1' = 'e5353879bd69bfddcb465dad176ff52db8319d6f' AND "
            "file:hashes.'SHA-512' = 'ab' AND file:hashes.MD5 = '83f1535f99ab0bf4e9d02dfd85d3e3f7']",
            (
                IndicatorType.FILEHASH_SHA1,
                "e5353879bd69bfddcb465dad176ff52db8319d6f",
                {
                    "file_hashes": {
                        "SHA-1": "e5353879bd69bfddcb465dad176ff52db8319d6f",
                        "SHA-512": "ab",
                        "MD5": "83f1535f99ab0bf4e9d02dfd85d3e3f7",
                    }
                },
            ),
        ),
        # MISP filename|md5.
        (
            "[file:name = 'invoice.exe' AND file:hashes.MD5 = '83f1535f99ab0bf4e9d02dfd85d3e3f7']",
            (
                IndicatorType.FILEHASH_MD5,
                "83f1535f99ab0bf4e9d02dfd85d3e3f7",
                {"file_hashes": {"MD5": "83f1535f99ab0bf4e9d02dfd85d3e3f7"}, "file": {"name": "invoice.exe"}},
            ),
        ),
        # MISP domain|ip.
        (
            "[domain-name:value = 'evil.example' AND domain-name:resolves_to_refs[*].value = '198.51.100.7']",
            (IndicatorType.DOMAIN, "evil.example", {"resolves_to": ["198.51.100.7"]}),
        ),
    ],
)
def test_compound_patterns_of_one_observable_map_to_it(
    pattern: str, expected: tuple[IndicatorType, str, dict[str, object]]
) -> None:
    assert tuple(pattern_observable(pattern)) == expected


def test_the_misp_export_page_maps_every_observable_and_quarantines_conditions() -> None:
    batch = ingest(TAXII, fixture_page("taxii", "misp_export_page.json", "envelope", collection="c"), at=AT)
    values = batch.by_value()
    assert values["185.220.101.50"].indicator_type is IndicatorType.IPV4
    assert values["185.220.101.50"].raw_metadata["network_traffic"] == {"ref": "dst_ref"}
    assert values["91.92.240.11"].raw_metadata["network_traffic"] == {"ref": "src_ref"}
    sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
    assert values[sha256].indicator_type is IndicatorType.FILEHASH_SHA256
    assert values[sha256].raw_metadata["file_hashes"]["MD5"] == "acbd18db4cc2f85cedef654fccc4a4d8"
    assert values[sha256].tlp is TLP.GREEN  # marked by a TLP marking-definition later on the page
    assert values["acbd18db4cc2f85cedef654fccc4a4d8"].raw_metadata["file"] == {"name": "invoice.exe"}
    assert values["update-checker.example"].raw_metadata["resolves_to"] == ["194.165.16.12"]
    assert values["http://evil.example.net/payload"].indicator_type is IndicatorType.URL
    assert batch.rejects == {"unsupported_pattern": 3}  # FOLLOWEDBY, LIKE, an invalid escape
    assert "http://evil.example.net/n" not in values


def test_non_stix_patterns_and_revoked_indicators() -> None:
    yara = {"type": "indicator", "pattern": "rule x { condition: true }", "pattern_type": "yara"}
    with pytest.raises(InvalidIndicator, match="yara"):
        parse_record({"indicator": yara, "tlp_labels": []}, {})
    revoked = {"type": "indicator", "pattern": "[domain-name:value = 'x.com']", "revoked": True}
    assert parse_record({"indicator": revoked, "tlp_labels": []}, {}).is_active is False


def test_an_envelope_without_objects_is_empty_and_a_broken_one_fails() -> None:
    assert list(split_records(FetchedPage(b'{"more": false}'))) == []
    assert list(split_records(FetchedPage(b"{}"))) == []
    for broken in (b'{"objects": {"type": "indicator"}}', b'{"objects": null}', b"[]", b"<html></html>"):
        with pytest.raises(FeedFormatError):
            list(split_records(FetchedPage(broken)))


def test_a_marking_definition_after_its_indicators_still_names_their_tlp() -> None:
    purple = "marking-definition--e66ed320-42aa-5d17-a123-e1f9b62cca52"
    indicator = {"type": "indicator", "pattern": "[domain-name:value = 'x.example']"}
    envelope = {
        "objects": [
            {**indicator, "id": "indicator--1", "object_marking_refs": [purple]},
            {**indicator, "id": "indicator--2", "object_marking_refs": [TLP_GREEN]},
            {**indicator, "id": "indicator--3", "object_marking_refs": [{"not": "an id"}, "unknown--x"]},
            {"type": "marking-definition", "id": purple, "definition_type": "tlp", "name": "TLP:PURPLE"},
        ]
    }
    records = list(split_records(FetchedPage(json.dumps(envelope).encode())))
    labels = {r["indicator"]["id"]: r["tlp_labels"] for r in records}
    assert labels == {"indicator--1": ["TLP:PURPLE"], "indicator--2": ["green"], "indicator--3": []}
