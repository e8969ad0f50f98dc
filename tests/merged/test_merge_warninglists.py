"""The merged view carries the warninglists its sources flagged, and scores such a value lower."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from threatstream.canonical.identity import merged_keys
from threatstream.merged.merge import merge, prepare_for_write, provenance, public_record, score_at
from threatstream.merged.scoring import ScoringPolicy, SourceEvidence, score
from threatstream.merged.stix import to_stix
from threatstream.sources import scoring_policy

POLICY = scoring_policy()
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
RESOLVER = "8.8.8.8"


def source_doc(
    source: str, *, value: str = RESOLVER, confidence: int | None = None, ingested_at: datetime = T0
) -> dict[str, Any]:
    """A canonical IPv4 source document as validate writes it to valid.jsonl."""
    return {
        "id": f"{source}:IPv4:x",
        "partition_key": merged_keys("IPv4", value)[1],
        "source": source,
        "indicator_type": "IPv4",
        "indicator_value": value,
        "confidence": confidence,
        "tags": [],
        "tlp": None,
        "first_seen": None,
        "last_seen": None,
        "valid_until": None,
        "ingested_at": ingested_at.isoformat().replace("+00:00", "Z"),
        "raw_metadata": {},
        "ttl": 7 * 86_400,
    }


def flagged(
    source: str, *lists: str, confidence: int | None = None, ingested_at: datetime = T0
) -> dict[str, Any]:
    document = source_doc(source, confidence=confidence, ingested_at=ingested_at)
    if lists:
        document["warninglists"] = list(lists)
    return document


def test_provenance_carries_the_lists_only_when_flagged() -> None:
    assert provenance(flagged("otx", "public-dns-v4"))["warninglists"] == ["public-dns-v4"]
    assert "warninglists" not in provenance(flagged("otx"))


def test_the_merged_document_holds_the_union_of_its_sources_lists() -> None:
    merged = merge(None, flagged("otx", "public-dns-v4"), policy=POLICY)
    merged = merge(merged, flagged("abuseipdb", "public-dns-v4", "sinkholes"), policy=POLICY)
    assert merged["warninglists"] == ["public-dns-v4", "sinkholes"]
    plain = merge(None, source_doc("otx", value=RESOLVER), policy=POLICY)
    assert "warninglists" not in plain


def test_a_warninglisted_value_keeps_a_fifth_of_its_score() -> None:
    merged = merge(None, flagged("otx", "public-dns-v4", confidence=100), policy=POLICY)
    plain = merge(None, source_doc("otx", value=RESOLVER, confidence=100), policy=POLICY)
    assert plain["score"] > 0
    assert merged["score"] == round(plain["score"] * POLICY.warninglist_factor, 1)
    later = T0 + timedelta(days=3)
    assert score_at(merged, later, POLICY) == round(score_at(plain, later, POLICY) * 0.2, 1)
    record = public_record(merged, later, POLICY)
    assert record["warninglists"] == ["public-dns-v4"]
    assert record["current_score"] < public_record(plain, later, POLICY)["current_score"]


def test_the_factor_is_a_setting_and_bounded() -> None:
    evidence = [SourceEvidence("otx", 100, T0)]
    policy = ScoringPolicy.from_mapping({"warninglist_factor": 0.5, "source_weights": {"otx": 1.0}})
    assert score(evidence, "IPv4", T0, policy, warninglisted=True) == 50.0
    assert score(evidence, "IPv4", T0, policy) == 100.0
    with pytest.raises(ValueError, match="warninglist_factor"):
        ScoringPolicy(warninglist_factor=1.5)


def test_a_newer_report_without_the_flag_clears_it() -> None:
    merged = merge(None, flagged("otx", "public-dns-v4"), policy=POLICY)
    merged = merge(merged, flagged("otx", ingested_at=T0 + timedelta(hours=1)), policy=POLICY)
    assert "warninglists" not in merged
    assert "warninglists" not in merged["sources"][0]


def test_the_stix_export_takes_the_lowered_score() -> None:
    now = T0 + timedelta(hours=1)
    merged = prepare_for_write(
        merge(None, flagged("otx", "public-dns-v4", confidence=100), policy=POLICY), now
    )
    plain = prepare_for_write(
        merge(None, source_doc("otx", value=RESOLVER, confidence=100), policy=POLICY), now
    )
    assert merged is not None
    assert plain is not None
    flagged_stix, plain_stix = to_stix(merged, now, POLICY), to_stix(plain, now, POLICY)
    assert flagged_stix is not None
    assert plain_stix is not None
    assert flagged_stix["x_threatstream_score"] < plain_stix["x_threatstream_score"]
