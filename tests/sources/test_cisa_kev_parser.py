"""CISA KEV parsing: pure functions over the recorded-shape catalogue."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from source_batches import fixture_json, fixture_page, ingest
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.sources.cisa_kev import CISA_KEV, parse_record, split_records

CONTEXT = {"catalogVersion": "2026.11.27", "dateReleased": "2026-11-27T17:03:12.4485Z"}


def test_the_catalogue_yields_cves_and_quarantines_bad_ids() -> None:
    batch = ingest(CISA_KEV, fixture_page("cisa_kev", "known_exploited_vulnerabilities.json", **CONTEXT))
    assert batch.records == 24
    assert len(batch.indicators) == 21  # 24 - 2 rejects - 1 repeated CVE
    assert batch.rejects == {"invalid_cve": 1, "empty": 1}
    values = batch.by_value()
    assert "CVE-2025-53770" in values  # " cve-2025-53770 " canonicalised
    assert {i.indicator_type for i in batch.indicators.values()} == {IndicatorType.CVE}
    assert {i.tlp for i in batch.indicators.values()} == {TLP.CLEAR}


def test_fields_map_to_the_document() -> None:
    entry = next(
        v
        for v in fixture_json("cisa_kev", "known_exploited_vulnerabilities.json")["vulnerabilities"]  # type: ignore[index]
        if v["cveID"] == "CVE-2021-44228"
    )
    observation = parse_record(entry, CONTEXT)
    assert observation.first_seen == datetime(2021, 12, 10, tzinfo=UTC)
    assert observation.tags == ("known-exploited", "ransomware")
    metadata = observation.raw_metadata
    assert metadata["dueDate"] == "2021-12-24"
    assert (metadata["vendorProject"], metadata["product"]) == ("Apache", "Log4j2")
    assert metadata["knownRansomwareCampaignUse"] == "Known"
    assert metadata["cwes"] == ["CWE-20", "CWE-400", "CWE-502"]
    assert metadata["catalogVersion"] == "2026.11.27"
    unknown = parse_record({**entry, "knownRansomwareCampaignUse": "Unknown", "cwes": None}, CONTEXT)
    assert unknown.tags == ("known-exploited",)
    assert unknown.raw_metadata["cwes"] == []


def test_a_count_that_disagrees_with_the_list_fails_the_batch() -> None:
    with pytest.raises(FeedFormatError, match="count"):
        split_records(fixture_page("cisa_kev", "known_exploited_vulnerabilities_truncated.json"))
    with pytest.raises(FeedFormatError):
        split_records(FetchedPage(b'{"title": "CISA Catalog", "vulnerabilities": null}'))


def test_a_full_size_catalogue_parses() -> None:
    template = {
        "vendorProject": "Vendor",
        "product": "Product",
        "vulnerabilityName": "Vendor Product Vulnerability",
        "dateAdded": "2024-01-01",
        "shortDescription": "x" * 300,
        "requiredAction": "Apply updates per vendor instructions.",
        "dueDate": "2024-01-22",
        "knownRansomwareCampaignUse": "Unknown",
        "notes": "",
        "cwes": ["CWE-79"],
    }
    entries = [{"cveID": f"CVE-2024-{10000 + n}", **template} for n in range(1500)]
    body = json.dumps({"count": 1500, "vulnerabilities": entries}).encode()
    assert len(body) > 900_000
    batch = ingest(CISA_KEV, FetchedPage(body, context=CONTEXT))
    assert (len(batch.indicators), sum(batch.rejects.values())) == (1500, 0)
