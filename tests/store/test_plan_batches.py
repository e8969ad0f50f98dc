"""Planning transactional batches: one partition key each, full whenever possible, within the
service's limits, from a stream held in bounded memory."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from threatstream.store.planning import Batch, document_entries, line_entries, plan_batches


def batches_of(documents: Iterable[Mapping[str, Any]], **limits: int) -> Iterator[Batch]:
    """The planned batches of ``documents``, decoded as they are when written."""
    for batch in plan_batches(document_entries(documents, "partition_key"), **limits):
        yield batch.decoded()


def _doc(i: int, pk: str, size: int = 10) -> dict[str, object]:
    return {"id": f"d{i}", "partition_key": pk, "pad": "x" * size}


def test_batches_hold_one_partition_key_and_at_most_100_operations() -> None:
    docs = [_doc(i, f"pk{i % 3}") for i in range(450)]
    batches = list(batches_of(docs))
    assert sum(len(b.documents) for b in batches) == 450
    for batch in batches:
        assert len(batch.documents) <= 100
        assert {d["partition_key"] for d in batch.documents} == {batch.partition_key}
    assert len(batches) == 6  # 150 per key -> 100 + 50


def test_one_id_is_written_once_per_batch_last_version_wins() -> None:
    docs = [{"id": "same", "partition_key": "pk", "v": 1}, {"id": "same", "partition_key": "pk", "v": 2}]
    (batch,) = batches_of(docs)
    assert batch.documents == ({"id": "same", "partition_key": "pk", "v": 2},)


def test_streamed_batches_are_full_per_partition_key_across_the_stream() -> None:
    docs = [_doc(i, f"pk{i % 7}") for i in range(1400)]  # 200 per key, interleaved
    batches = list(batches_of(docs, max_buffered=10_000))
    assert sorted(len(b.documents) for b in batches) == [100] * 14
    for batch in batches:
        assert {d["partition_key"] for d in batch.documents} == {batch.partition_key}
    assert sorted(d["id"] for b in batches for d in b.documents) == sorted(d["id"] for d in docs)


def test_streamed_batches_hold_a_bounded_number_of_documents() -> None:
    consumed = 0

    def stream() -> Iterator[dict[str, object]]:
        nonlocal consumed
        for i in range(5000):  # 10 per key: no key ever fills a batch
            consumed += 1
            yield _doc(i, f"pk{i % 500}")

    released = most_held = 0
    for batch in batches_of(stream(), max_buffered=1000):
        most_held = max(most_held, consumed - released)
        released += len(batch.documents)
    assert released == 5000
    assert most_held <= 1001


def test_streamed_batches_respect_the_payload_limit_and_keep_the_last_version() -> None:
    docs = [_doc(i, "pk", size=30_000) for i in range(10)]
    docs.append({"id": "d9", "partition_key": "pk", "pad": "new"})
    batches = list(batches_of(docs, max_bytes=100_000))
    assert all(len(b.documents) <= 3 for b in batches)
    written = {d["id"]: d for b in batches for d in b.documents}
    assert len(written) == 10
    assert written["d9"]["pad"] == "new"


def test_streamed_batches_hold_dicts_equal_to_the_documents_whatever_their_mapping_type() -> None:
    document = {"id": "a", "partition_key": "pk", "tags": ["x"], "meta": {"n": 1}}
    (batch,) = batches_of([MappingProxyType(document)])
    assert batch.documents == (document,)
    assert type(batch.documents[0]) is dict


def test_waiting_documents_are_not_held_as_objects_the_garbage_collector_walks() -> None:
    tracked: list[int] = []

    def stream() -> Iterator[dict[str, object]]:
        tracked.append(len(gc.get_objects()))
        for i in range(20_000):  # 20 per key: nothing is released before the end
            yield {"id": f"d{i}", "partition_key": f"pk{i % 1000}", "tags": ["t"], "meta": {"i": i}}
        tracked.append(len(gc.get_objects()))

    assert sum(len(b.documents) for b in batches_of(stream(), max_buffered=50_000)) == 20_000
    assert tracked[1] - tracked[0] < 5_000  # 20,000 waiting documents as dicts: 60,000


@given(
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12), st.booleans(), st.booleans()), max_size=20)
)
def test_key_and_id_read_off_a_line_are_those_it_decodes_to(
    shapes: list[tuple[str, str, bool, bool]],
) -> None:
    # Lines as the batch encoder writes them (id, then partition key) take a shortcut past
    # decoding; escapes, non-ASCII text and other key orders must come out the same.
    lines = []
    for document_id, key, encoder_order, escaped in shapes:
        document = {"id": document_id, "partition_key": key, "ttl": 1}
        if not encoder_order:
            document = {"ttl": 1, "partition_key": key, "id": document_id}
        line = orjson.dumps(document)
        lines.append(line.replace(b"/", b"\\/") if escaped else line)
    expected = [(orjson.loads(line)["partition_key"], orjson.loads(line)["id"], line) for line in lines]
    assert list(line_entries(lines, "partition_key")) == expected
