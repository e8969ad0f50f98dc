"""An envelope's indicators, streamed one at a time, each with the TLP labels of its markings."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from threatstream.canonical.vocabulary import TLP_OF_MARKING
from threatstream.feeds.limits import MIB
from threatstream.feeds.pages import FetchedPage
from threatstream.parsing.json_stream import iter_json_array
from threatstream.parsing.streams import read_head

#: Largest single STIX object a page may hold (an indicator is a few kB).
MAX_OBJECT_BYTES = 4 * MIB
#: Indicators waiting for a marking-definition later on their page are kept in memory up to
#: this size, then on disk.
DEFERRED_IN_MEMORY_BYTES = 1 * MIB


def _marking_tlp(obj: Mapping[str, Any]) -> str | None:
    """The TLP label a marking definition defines, or None for another kind of marking."""
    definition = obj.get("definition")
    name = obj.get("name") or (definition.get("tlp") if isinstance(definition, dict) else None)
    if isinstance(name, str) and (obj.get("definition_type") == "tlp" or name.upper().startswith("TLP:")):
        return name
    return None


def _marking_refs(indicator: Mapping[str, Any]) -> list[str]:
    refs = indicator.get("object_marking_refs")
    return [ref for ref in refs if isinstance(ref, str)] if isinstance(refs, list) else []


def _objects(stream: Any) -> Iterator[Any]:
    """The objects of an envelope, one at a time; an envelope without ``objects`` has none
    (TAXII leaves the member out when there is nothing to return)."""
    head, stream = read_head(stream)
    if len(head) < 1 << 16:  # the whole envelope: a small one may lack 'objects'
        try:
            envelope = orjson.loads(head)
        except orjson.JSONDecodeError:
            envelope = None
        if isinstance(envelope, dict) and "objects" not in envelope:
            return
    yield from iter_json_array(stream, "objects", "TAXII objects", max_record_bytes=MAX_OBJECT_BYTES)


def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """One record per indicator of an envelope, with the TLP labels of its markings.

    The objects are streamed one at a time. Marking definitions on the page name TLP labels
    for its indicators: an indicator is passed on as soon as all its markings are known (the
    shared TLP ids, or definitions earlier on the page); one marked by an id not seen yet waits
    (in memory up to :data:`DEFERRED_IN_MEMORY_BYTES`, then on disk) until the page has been read.
    """
    tlp: dict[str, str | None] = dict(TLP_OF_MARKING)
    with page.open() as stream, tempfile.SpooledTemporaryFile(DEFERRED_IN_MEMORY_BYTES) as deferred:
        waiting = 0
        for obj in _objects(stream):
            if not isinstance(obj, dict):
                continue
            kind = obj.get("type")
            if kind == "marking-definition":
                tlp[str(obj.get("id"))] = _marking_tlp(obj)
            elif kind == "indicator":
                if all(ref in tlp for ref in _marking_refs(obj)):
                    yield _record(obj, tlp)
                else:
                    deferred.write(orjson.dumps(obj) + b"\n")
                    waiting += 1
        if waiting:
            deferred.seek(0)
            for line in deferred:
                yield _record(orjson.loads(line), tlp)


def _record(indicator: Mapping[str, Any], tlp: Mapping[str, str | None]) -> dict[str, Any]:
    labels = [tlp.get(ref) for ref in _marking_refs(indicator)]
    return {"indicator": indicator, "tlp_labels": [label for label in labels if label]}
