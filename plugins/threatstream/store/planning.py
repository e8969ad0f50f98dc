"""Planning transactional batches: documents grouped by partition key within the service's limits.

Documents wait as JSON (which also gives their size) until their batch is released, so memory
stays bounded and the garbage collector has nothing to walk; a batch is decoded only when it
is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

#: A transactional batch holds at most 100 operations, all on one partition key.
MAX_BATCH_OPERATIONS = 100
#: Keep batch payloads well under the service's 2 MB request limit.
MAX_BATCH_BYTES = 1_000_000
#: Documents held (as JSON) while batches fill up.
MAX_BUFFERED = 25_000

#: What the planner needs of a document: partition key, id and the document as JSON.
Entry = tuple[str, str, bytes]


@dataclass(frozen=True)
class Batch:
    """Documents that share one partition key and fit one transactional batch."""

    partition_key: str
    documents: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class EncodedBatch:
    """A planned batch whose documents are still JSON."""

    partition_key: str
    lines: tuple[bytes, ...]

    def decoded(self) -> Batch:
        """The batch with its documents decoded: new dicts, owned by the caller."""
        return Batch(self.partition_key, tuple(map(orjson.loads, self.lines)))


def document_entries(documents: Iterable[Mapping[str, Any]], pk_field: str) -> Iterator[Entry]:
    """Entries of documents, each encoded as JSON (``orjson.JSONEncodeError`` if it cannot be)."""
    for document in documents:
        line = orjson.dumps(document if isinstance(document, dict) else dict(document))
        yield str(document[pk_field]), str(document["id"]), line


def line_entries(lines: Iterable[bytes], pk_field: str) -> Iterator[Entry]:
    """Entries of JSON lines, each sent as read: its key and id read off the line.

    A line that starts as the batch encoder writes documents (``{"id":"...","<pk_field>":"..."``,
    both values printable ASCII with nothing escaped) gives both at once; any other line is
    decoded for them.
    """
    decode = orjson.loads
    plain = rb'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"'  # no quote, backslash or control character
    leading = re.compile(rb'\{"id":%s,"%s":%s' % (plain, re.escape(pk_field.encode()), plain))
    for line in lines:
        match = leading.match(line)
        if match is not None:
            document_id, key = match.groups()
            yield key.decode("ascii"), document_id.decode("ascii"), line
            continue
        document = decode(line)
        yield str(document[pk_field]), str(document["id"]), line


def plan_batches(
    entries: Iterable[Entry],
    *,
    max_buffered: int = MAX_BUFFERED,
    max_operations: int = MAX_BATCH_OPERATIONS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[EncodedBatch]:
    """Group a stream of entries into batches per partition key, full whenever possible.

    A batch is released as soon as its partition key has ``max_operations`` documents (or
    its next document would pass ``max_bytes``); when more than ``max_buffered`` documents
    wait, the fullest partial batches go out until half of them do, so memory stays bounded
    however many partition keys the stream spreads over. The rest goes out at the end. An
    id repeated within a waiting batch keeps its last version (``validate`` writes each id
    once per batch file, so ids do not repeat across batches).

    Waiting documents are kept as JSON bytes, which the garbage collector does not track:
    tens of thousands of them as dicts and lists would be walked by every collection and,
    as they age, make the interpreter run full collections over the whole heap.
    """
    waiting: dict[str, dict[str, bytes]] = {}  # partition key -> id -> JSON
    sizes: dict[str, int] = {}  # partition key -> bytes waiting
    buffered = 0

    def release(key: str) -> EncodedBatch:
        nonlocal buffered
        lines = waiting.pop(key)
        del sizes[key]
        buffered -= len(lines)
        return EncodedBatch(key, tuple(lines.values()))

    for key, document_id, line in entries:
        group = waiting.get(key)
        previous = None if group is None else group.get(document_id)
        if group is not None and previous is None and sizes[key] + len(line) > max_bytes:
            yield release(key)
            group = None
        if group is None:
            group = waiting[key] = {}
            sizes[key] = 0
        group[document_id] = line
        if previous is None:
            sizes[key] += len(line)
            buffered += 1
        else:
            sizes[key] += len(line) - len(previous)
        if len(group) >= max_operations:
            yield release(key)
        elif buffered > max_buffered:
            for fullest in sorted(waiting, key=lambda k: len(waiting[k]), reverse=True):
                if buffered <= max_buffered // 2:
                    break
                yield release(fullest)
    for key in list(waiting):
        yield release(key)
