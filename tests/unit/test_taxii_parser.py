"""TAXII 2.1 / STIX 2.1 parsing: single-comparison patterns to canonical types, the rest quarantined."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from source_batches import fixture_page, ingest

from threatstream.canonical import InvalidIndicator
from threatstream.exceptions import FeedFormatError
from threatstream.hooks.feed import FetchedPage
from threatstream.sources.taxii import TAXII, parse_record, pattern_indicator, split_records
from threatstream.vocabulary import TLP, IndicatorType

AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


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
    assert pattern_indicator(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '1.1.1.2']", "single"),
        ("[ipv4-addr:value = '1.1.1.1'] AND [domain-name:value = 'x.com']", "single"),
        (
            "[domain-name:value = 'x.com'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
            "single",
        ),
        ("[ipv4-addr:value != '1.1.1.1']", "single"),
        ("[domain-name:value LIKE '%.evil.com']", "single"),
        ("[file:name = 'invoice.exe']", "file:name"),
        ("[file:hashes.'SHA-512' = 'ab']", "SHA-512"),
        ("[mutex:name = 'Global\\\\x']", "mutex:name"),
        ("", "no pattern"),
    ],
)
def test_other_patterns_are_unsupported_with_a_reason(pattern: str, why: str) -> None:
    with pytest.raises(InvalidIndicator) as caught:
        pattern_indicator(pattern)
    assert caught.value.reason == "unsupported_pattern"
    assert why in caught.value.message


def test_non_stix_patterns_and_revoked_indicators() -> None:
    yara = {"type": "indicator", "pattern": "rule x { condition: true }", "pattern_type": "yara"}
    with pytest.raises(InvalidIndicator, match="yara"):
        parse_record({"indicator": yara, "tlp_labels": []}, {})
    revoked = {"type": "indicator", "pattern": "[domain-name:value = 'x.com']", "revoked": True}
    assert parse_record({"indicator": revoked, "tlp_labels": []}, {}).is_active is False


def test_an_envelope_without_objects_is_empty_and_a_broken_one_fails() -> None:
    assert split_records(FetchedPage(b'{"more": false}')) == []
    with pytest.raises(FeedFormatError):
        split_records(FetchedPage(b'{"objects": {"type": "indicator"}}'))
