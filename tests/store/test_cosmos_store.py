"""IndicatorStoreHook against the local Cosmos-protocol server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.records.indicators import Observation
from threatstream.store.indicators import IndicatorStoreHook

pytestmark = pytest.mark.emulator

INGESTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
URLS = [
    "http://evil.example.com/a/b?x=1#frag",
    "https://bücher.example/download?id=7&y=%2f",
    "HTTP://UPPER.Example.COM:80/Path",
    "http://59.40.83.17:42989/i",
]


def _documents(count: int) -> list[dict[str, object]]:
    values = URLS + [f"http://host{i}.example.net/p/{i}?q={i}#f" for i in range(count - len(URLS))]
    return [
        Observation(indicator_type=IndicatorType.URL, value=value, tags=("t",))
        .to_indicator("urlhaus", ingested_at=INGESTED, default_ttl=timedelta(days=90))
        .to_document()
        for value in values
    ]


def _all(hook: IndicatorStoreHook) -> list[dict[str, object]]:
    return sorted(hook.query("SELECT * FROM c"), key=lambda doc: str(doc["id"]))


def _strip_system(doc: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def test_creates_database_and_container_with_ttl_and_partition_key(cosmos_database: str) -> None:
    hook = IndicatorStoreHook()
    properties = hook.get_container().read()
    assert hook.database_name == cosmos_database
    assert properties["id"] == "indicators"
    assert properties["partitionKey"]["paths"] == ["/partition_key"]
    assert properties["defaultTtl"] == -1


def test_upserts_across_many_partitions_and_reads_back(cosmos_database: str) -> None:
    documents = _documents(1200)
    stats = IndicatorStoreHook(max_concurrency=4).upsert_documents(documents, chunk_size=500)
    assert (stats.written, stats.failed) == (1200, 0)
    assert stats.batches > len({d["partition_key"] for d in documents})  # >100 docs per key split
    hook = IndicatorStoreHook()
    assert hook.count() == 1200
    assert hook.count("urlhaus") == 1200
    stored = hook.read_indicator(str(documents[1]["id"]), str(documents[1]["partition_key"]))
    assert stored is not None
    assert _strip_system(stored) == documents[1]
    assert stored["indicator_value"] == "https://xn--bcher-kva.example/download?id=7&y=%2F"
    assert stored["ttl"] == 90 * 86400


def test_reupsert_is_idempotent(cosmos_database: str) -> None:
    documents = _documents(300)
    hook = IndicatorStoreHook()
    hook.upsert_documents(documents)
    before = [_strip_system(d) for d in _all(hook)]
    hook.upsert_documents(documents)
    after = [_strip_system(d) for d in _all(hook)]
    assert len(after) == 300
    assert before == after


def test_missing_document_reads_as_none(cosmos_database: str) -> None:
    assert IndicatorStoreHook().read_indicator("urlhaus:URL:nope", "URL_00") is None


def test_queries_are_parameterized(cosmos_database: str) -> None:
    hook = IndicatorStoreHook()
    hook.upsert_documents(_documents(10))
    hostile = "x' OR 1=1 --"
    assert list(hook.query("SELECT * FROM c WHERE c.source = @s", {"@s": hostile})) == []
    rows = list(
        hook.query("SELECT c.id FROM c WHERE c.indicator_value = @v", {"@v": "http://59.40.83.17:42989/i"})
    )
    assert len(rows) == 1


def test_a_refused_document_fails_alone(cosmos_database: str) -> None:
    documents = _documents(20)
    same_partition = [d for d in documents if d["partition_key"] == documents[0]["partition_key"]]
    oversized = dict(same_partition[0], raw_metadata={"blob": "x" * 2_100_000})
    stats = IndicatorStoreHook().upsert_documents([oversized, *documents[1:]])
    assert stats.failed == 1
    assert stats.written == 19
    assert stats.failures[0]["id"] == oversized["id"]
