"""Grouping documents into transactional batches."""

from __future__ import annotations

from threatstream.hooks.cosmos import plan_batches


def _doc(i: int, pk: str, size: int = 10) -> dict[str, object]:
    return {"id": f"d{i}", "partition_key": pk, "pad": "x" * size}


def test_batches_hold_one_partition_key_and_at_most_100_operations() -> None:
    docs = [_doc(i, f"pk{i % 3}") for i in range(450)]
    batches = plan_batches(docs)
    assert sum(len(b.documents) for b in batches) == 450
    for batch in batches:
        assert len(batch.documents) <= 100
        assert {d["partition_key"] for d in batch.documents} == {batch.partition_key}
    assert len(batches) == 6  # 150 per key -> 100 + 50


def test_batches_respect_the_payload_limit() -> None:
    docs = [_doc(i, "pk", size=30_000) for i in range(100)]
    batches = plan_batches(docs, max_bytes=100_000)
    assert all(len(b.documents) <= 3 for b in batches)
    assert sum(len(b.documents) for b in batches) == 100


def test_one_id_is_written_once_per_batch_last_version_wins() -> None:
    docs = [{"id": "same", "partition_key": "pk", "v": 1}, {"id": "same", "partition_key": "pk", "v": 2}]
    (batch,) = plan_batches(docs)
    assert batch.documents == ({"id": "same", "partition_key": "pk", "v": 2},)
