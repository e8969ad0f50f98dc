"""The new sources' fixtures agree on one value, so a cross-source (merged) view has something to merge."""

from __future__ import annotations

from source_batches import fixture_page, ingest
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.sources import get_source

SHARED_C2 = "194.180.48.51"


def test_one_c2_is_reported_by_four_sources_with_the_same_canonical_key() -> None:
    batches = {
        "feodo": ingest(get_source("feodo"), fixture_page("feodo", "ipblocklist.json")),
        "threatfox": ingest(get_source("threatfox"), fixture_page("threatfox", "get_iocs.json")),
        "threatfox_csv": ingest(get_source("threatfox_csv"), fixture_page("threatfox_csv", "recent.csv")),
        "taxii": ingest(get_source("taxii"), fixture_page("taxii", "objects_page3.json", "envelope")),
    }
    found = {name: batch.by_value()[SHARED_C2] for name, batch in batches.items()}
    assert {i.indicator_type for i in found.values()} == {IndicatorType.IPV4}
    assert len({i.partition_key for i in found.values()}) == 1  # same type + value: same partition
    assert {i.id.split(":", 1)[0] for i in found.values()} == set(batches)  # one document per source
