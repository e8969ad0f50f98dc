"""The merged view's pure functions: merge, expiry, score (golden examples + properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threatstream.canonical.identity import merged_keys
from threatstream.merged.merge import (
    content_of,
    merge,
    prepare_for_write,
    provenance,
    score_at,
)
from threatstream.merged.scoring import ScoringPolicy, SourceEvidence, score
from threatstream.parsing.timestamps import SORTABLE, format_utc
from threatstream.sources import scoring_policy

#: The registered sources' weights and default confidences.
POLICY = scoring_policy()

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
IP = "94.156.8.244"


def source_doc(
    source: str,
    *,
    value: str = IP,
    kind: str = "IPv4",
    confidence: int | None = None,
    tags: tuple[str, ...] = (),
    tlp: str | None = None,
    ingested_at: datetime = T0,
    first_seen: datetime | None = None,
    last_seen: datetime | None = None,
    valid_until: datetime | None = None,
    ttl: int = 7 * 86_400,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A canonical source document as validate writes it to valid.jsonl."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": f"{source}:{kind}:x",
        "partition_key": merged_keys(kind, value)[1],
        "source": source,
        "indicator_type": kind,
        "indicator_value": value,
        "confidence": confidence,
        "tags": sorted(tags),
        "tlp": tlp,
        "first_seen": iso(first_seen),
        "last_seen": iso(last_seen),
        "valid_until": iso(valid_until),
        "ingested_at": iso(ingested_at),
        "raw_metadata": metadata or {},
        "ttl": ttl,
    }


# -- identity and provenance -------------------------------------------------------------


def test_merged_id_depends_on_type_and_value_only() -> None:
    merged = merge(None, source_doc("otx"))
    assert merged["id"] == merged_keys("IPv4", IP)[0] == merge(None, source_doc("abuseipdb"))["id"]
    assert merged["id"].startswith("IPv4:")
    assert len(merged["id"]) == 5 + 64
    assert merged["partition_key"] == merged_keys("IPv4", IP)[1]
    assert merged_keys("domain", "evil.example")[0] != merged_keys("hostname", "evil.example")[0]


def test_provenance_entry() -> None:
    doc = source_doc(
        "otx",
        tags=("botnet",),
        tlp="green",
        first_seen=T0 - timedelta(days=3),
        last_seen=T0 - timedelta(hours=2),
        valid_until=T0 + timedelta(days=2),
        metadata={"pulse_id": "6651a0c2"},
    )
    entry = provenance(doc, written_at=T0 + timedelta(minutes=5), batch_uri="file:///b/valid.jsonl")
    assert entry == {
        "source": "otx",
        "document_id": "otx:IPv4:x",
        "first_reported": "2026-11-25T10:00:00.000000Z",
        "last_reported": "2026-11-28T10:00:00.000000Z",
        "confidence": None,
        "tags": ["botnet"],
        "tlp": "green",
        "valid_until": "2026-11-30T10:00:00.000000Z",
        "expires_at": "2026-11-30T10:00:00.000000Z",  # valid_until is sooner than write + ttl
        "ingested_at": "2026-11-28T10:00:00.000000Z",
        "reference": "https://otx.alienvault.com/pulse/6651a0c2",
        "batch_uri": "file:///b/valid.jsonl",
    }
    # Without valid_until the report lives ttl seconds from the write.
    assert provenance(source_doc("abuseipdb"), written_at=T0)["expires_at"] == format_utc(
        T0 + timedelta(days=7), SORTABLE
    )


def test_merge_rejects_a_document_of_another_value() -> None:
    merged = merge(None, source_doc("otx"))
    with pytest.raises(ValueError, match="does not belong"):
        merge(merged, source_doc("abuseipdb", value="5.188.10.197"))


# -- the three-source example of docs/merged-view.md ------------------------------------------


def three_sources() -> list[dict[str, Any]]:
    return [
        source_doc("otx", tags=("botnet", "mirai"), tlp="green", last_seen=T0 - timedelta(days=7)),
        source_doc("abuseipdb", confidence=100, last_seen=T0 - timedelta(hours=1)),
        source_doc("feodo", tags=("botnet", "c2"), tlp="amber", ingested_at=T0 - timedelta(days=14)),
    ]


def test_three_sources_make_one_document() -> None:
    merged: dict[str, Any] | None = None
    for doc in three_sources():
        merged = merge(merged, doc, policy=POLICY)
    assert merged is not None
    assert merged["source_count"] == 3
    assert merged["source_names"] == ["abuseipdb", "feodo", "otx"]
    assert [entry["source"] for entry in merged["sources"]] == ["abuseipdb", "feodo", "otx"]
    assert merged["tags"] == ["botnet", "c2", "mirai"]
    assert merged["tlp"] == "amber"
    assert merged["first_seen"] == format_utc(T0 - timedelta(days=14), SORTABLE)
    assert merged["last_seen"] == format_utc(T0, SORTABLE)
    # docs/merged-view.md, worked example: as of T0
    #   abuseipdb 0.8 * 1.00 * 1   = 0.80
    #   otx       0.6 * 0.60 * 1   = 0.36   (OTX gives no confidence: default 60)
    #   feodo     0.95 * 0.90 * 0.25 = 0.21375 (two IPv4 half-lives of 7 days)
    #   100 * (1 - 0.2 * 0.64 * 0.78625) = 89.936
    assert merged["score"] == 89.9
    assert merged["score_as_of"] == format_utc(T0, SORTABLE)
    # A week later nothing new: each report has decayed one more half-life.
    assert score_at(merged, T0 + timedelta(days=7), POLICY) == round(
        100 * (1 - (1 - 0.4) * (1 - 0.18) * (1 - 0.95 * 0.9 * 0.125)), 1
    )


def test_strictest_tlp_ignores_sources_without_one() -> None:
    merged = merge(merge(None, source_doc("otx", tlp="clear")), source_doc("abuseipdb"))
    assert merged["tlp"] == "clear"
    assert merge(None, source_doc("abuseipdb"))["tlp"] is None
    assert merge(merged, source_doc("x", tlp="amber+strict"))["tlp"] == "amber+strict"


def test_a_later_report_of_one_source_keeps_the_first_and_moves_the_last() -> None:
    early = source_doc("abuseipdb", confidence=80, ingested_at=T0)
    late = source_doc("abuseipdb", confidence=100, ingested_at=T0 + timedelta(hours=6))
    for first, second in ((early, late), (late, early)):
        entry = merge(merge(None, first), second)["sources"][0]
        assert entry["first_reported"] == format_utc(T0, SORTABLE)
        assert entry["last_reported"] == format_utc(T0 + timedelta(hours=6), SORTABLE)
        assert entry["confidence"] == 100  # the newer report's attributes


# -- expiry ------------------------------------------------------------------------------------


def test_expired_sources_are_dropped_and_the_ttl_follows_the_latest_living_source() -> None:
    short = source_doc("abuseipdb", ttl=86_400)  # expires T0 + 1 day
    long = source_doc("otx", ttl=10 * 86_400)  # expires T0 + 10 days
    merged = merge(merge(None, short), long)
    now = T0 + timedelta(hours=1)
    written = prepare_for_write(merged, now)
    assert written is not None
    assert written["ttl"] == 10 * 86_400 - 3600
    assert written["updated_at"] == format_utc(now, SORTABLE)
    later = prepare_for_write(merged, T0 + timedelta(days=2))
    assert later is not None
    assert later["source_names"] == ["otx"]
    assert later["expires_at"] == format_utc(T0 + timedelta(days=10), SORTABLE)
    # Expired at every source: nothing to write (and an existing document is deleted).
    assert prepare_for_write(merged, T0 + timedelta(days=10)) is None


def test_prepare_for_write_keeps_content_apart_from_volatile_fields() -> None:
    merged = merge(None, source_doc("otx"))
    first = prepare_for_write(merged, T0)
    second = prepare_for_write({**merged, "_etag": '"1"', "_ts": 1}, T0 + timedelta(seconds=30))
    assert first is not None
    assert second is not None
    assert content_of(first) == content_of(second) == merged


# -- score -------------------------------------------------------------------------------------


def test_score_of_nothing_is_zero_and_of_full_certainty_is_100() -> None:
    assert score([], "IPv4", T0) == 0.0
    assert score([SourceEvidence("cisa_kev", 100, T0)], "CVE", T0, POLICY) == 100.0


def test_unknown_sources_and_types_use_the_fallbacks() -> None:
    policy = ScoringPolicy()
    assert score([SourceEvidence("somefeed", None, T0)], "IPv4", T0) == 25.0  # 0.5 * 0.5
    month = T0 + timedelta(days=30)
    assert score([SourceEvidence("somefeed", 100, T0)], "NewType", month, policy) == 25.0


def test_policy_overrides_and_validation() -> None:
    policy = ScoringPolicy.from_mapping({"source_weights": {"otx": 1.0}, "half_life_days": {"IPv4": 1}})
    assert score([SourceEvidence("otx", 100, T0)], "IPv4", T0 + timedelta(days=1), policy) == 50.0
    assert policy.weight("abuseipdb") == 0.5  # a source the mapping does not name: the fallback
    assert policy.half_life_seconds("domain") == ScoringPolicy().half_life_seconds("domain")  # defaults kept
    with pytest.raises(ValueError, match="unknown scoring settings"):
        ScoringPolicy.from_mapping({"weights": {}})
    with pytest.raises(ValueError, match="within 0-1"):
        ScoringPolicy.from_mapping({"source_weights": {"otx": 2}})
    with pytest.raises(ValueError, match="positive"):
        ScoringPolicy.from_mapping({"half_life_days": {"IPv4": 0}})


# -- properties --------------------------------------------------------------------------------

SOURCES = st.sampled_from(["urlhaus", "otx", "abuseipdb", "feodo", "threatfox", "other"])
TIMES = st.integers(min_value=-60 * 86_400, max_value=60 * 86_400).map(lambda s: T0 + timedelta(seconds=s))
CONFIDENCES = st.none() | st.integers(min_value=0, max_value=100)
TYPES = st.sampled_from(["IPv4", "domain", "URL", "FileHash-SHA256", "CVE", "Mutex", "Unknown"])

evidences = st.builds(SourceEvidence, source=SOURCES, confidence=CONFIDENCES, last_reported=TIMES)

documents = st.builds(
    lambda source, confidence, tags, tlp, ingested, seen, ttl: source_doc(
        source,
        confidence=confidence,
        tags=tuple(tags),
        tlp=tlp,
        ingested_at=ingested,
        first_seen=seen,
        ttl=ttl,
    ),
    SOURCES,
    CONFIDENCES,
    st.lists(st.sampled_from(["botnet", "c2", "mirai", "phishing"]), max_size=3),
    st.sampled_from([None, "clear", "green", "amber", "amber+strict", "red"]),
    TIMES,
    st.none() | TIMES,
    st.integers(min_value=1, max_value=90 * 86_400),
)


def fold(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    merged: dict[str, Any] | None = None
    for doc in docs:
        merged = merge(merged, doc)
    return merged


@PROPERTY_SETTINGS
@given(st.lists(evidences, max_size=6), TYPES, TIMES)
def test_score_is_bounded(items: list[SourceEvidence], kind: str, at: datetime) -> None:
    assert 0.0 <= score(items, kind, at) <= 100.0


@PROPERTY_SETTINGS
@given(st.lists(evidences, max_size=5), evidences, st.integers(0, 100), st.integers(0, 100), TYPES, TIMES)
def test_score_is_monotone_in_confidence(
    others: list[SourceEvidence], item: SourceEvidence, a: int, b: int, kind: str, at: datetime
) -> None:
    low, high = sorted((a, b))
    with_low = [*others, SourceEvidence(item.source, low, item.last_reported)]
    with_high = [*others, SourceEvidence(item.source, high, item.last_reported)]
    assert score(with_low, kind, at) <= score(with_high, kind, at)


@PROPERTY_SETTINGS
@given(st.lists(evidences, max_size=5), evidences, TIMES, TIMES, TYPES, TIMES)
def test_score_is_monotone_in_recency(
    others: list[SourceEvidence],
    item: SourceEvidence,
    a: datetime,
    b: datetime,
    kind: str,
    at: datetime,
) -> None:
    older, newer = sorted((a, b))
    with_older = [*others, SourceEvidence(item.source, item.confidence, older)]
    with_newer = [*others, SourceEvidence(item.source, item.confidence, newer)]
    assert score(with_older, kind, at) <= score(with_newer, kind, at)
    # ... and it never rises as time passes without new reports.
    assert score(with_newer, kind, at + timedelta(days=1)) <= score(with_newer, kind, at)


@PROPERTY_SETTINGS
@given(st.lists(evidences, max_size=5), evidences, TYPES, TIMES)
def test_another_source_never_lowers_the_score(
    items: list[SourceEvidence], extra: SourceEvidence, kind: str, at: datetime
) -> None:
    assert score(items, kind, at) <= score([*items, extra], kind, at)


@PROPERTY_SETTINGS
@given(st.lists(documents, min_size=1, max_size=6))
def test_merge_is_idempotent(docs: list[dict[str, Any]]) -> None:
    merged = fold(docs)
    assert fold([*docs, *docs]) == merged
    for doc in docs:
        assert merge(merged, doc) == merged


@PROPERTY_SETTINGS
@given(st.lists(documents, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_merge_is_order_independent(docs: list[dict[str, Any]], random: Any) -> None:
    shuffled = list(docs)
    random.shuffle(shuffled)
    assert fold(shuffled) == fold(docs)


@PROPERTY_SETTINGS
@given(st.lists(documents, min_size=1, max_size=6))
def test_merged_aggregates_follow_the_entries(docs: list[dict[str, Any]]) -> None:
    merged = fold(docs)
    assert merged is not None
    assert merged["source_count"] == len({doc["source"] for doc in docs}) == len(merged["sources"])
    # The union of the sources' tags (within one source, its newest report counts).
    assert merged["tags"] == sorted({tag for entry in merged["sources"] for tag in entry["tags"]})
    assert set(merged["tags"]) <= {tag for doc in docs for tag in doc["tags"]}
    assert 0.0 <= merged["score"] <= 100.0


def test_the_scoring_policy_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatstream.sources import scoring_policy as configured_policy

    monkeypatch.setenv("AIRFLOW__THREATSTREAM__SCORING", '{"source_weights": {"otx": 1.0, "mine": 0.9}}')
    policy = configured_policy({"source_weights": {"mine": 0.7}, "fallback_confidence": 40})
    assert (policy.weight("otx"), policy.weight("mine"), policy.weight("urlhaus")) == (1.0, 0.7, 0.9)
    assert policy.confidence("unknown", None) == 0.4
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__SCORING", "{not json")
    with pytest.raises(ValueError, match="not JSON"):
        configured_policy()
