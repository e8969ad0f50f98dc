"""Streaming the attributes of one MISP event file: ``Event.Attribute`` and ``Event.Object[].Attribute``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import ijson

from threatstream.exceptions import FeedFormatError
from threatstream.feeds.pages import FetchedPage
from threatstream.parsing.json_stream import JsonDepthGuard
from threatstream.parsing.streams import READ_BYTES, read_head
from threatstream.sources.misp.mapping import Rules, indicator_parts, is_selected

ATTRIBUTES = "Event.Attribute.item"
OBJECT = "Event.Object.item"
OBJECT_ATTRIBUTES = "Event.Object.item.Attribute.item"
#: Object fields kept with each of its attributes (those written before its ``Attribute`` list).
OBJECT_FIELDS = frozenset({"uuid", "name", "meta-category", "comment", "first_seen", "last_seen"})
#: The page kind of an event file, and of the state a run leaves behind.
EVENT_PAGE = "misp_event"
STATE_PAGE = "misp_state"


def split_event(page: FetchedPage, rules: Rules) -> Iterator[Mapping[str, Any]]:
    """The attribute records of an event page, streamed: one attribute is built at a time.

    Each record is ``{"attribute": {...}, "object": {...} | None, "object_deleted": bool,
    "part": i}``; a composite attribute with two indicator parts (``domain|ip``) is two
    records. Attributes the spec does not read (``to_ids`` false, by default) are no
    records. A state page holds no records.

    :raises FeedFormatError: the page is not a MISP event (no ``Event`` object), or not JSON.
    """
    if page.kind != EVENT_PAGE:
        return
    what = f"MISP event {page.context.get('uuid', '?')}"
    with page.open() as stream:
        # The parser probes its source with read(0); a stored page's reader takes b"" for its end.
        _, body = read_head(stream, READ_BYTES)
        events = ijson.parse(JsonDepthGuard(body, what), use_float=True, buf_size=READ_BYTES)
        builder: Any = None
        obj: dict[str, Any] = {}
        object_deleted = False
        seen_event = False
        try:
            for prefix, event, value in events:
                if builder is not None:
                    if prefix == builder.prefix and event in ("end_map", "end_array") and builder.depth == 0:
                        attribute = builder.finish()
                        builder = None
                        yield from _records(attribute, obj or None, object_deleted, rules)
                        continue
                    builder.event(event, value)
                    continue
                if prefix in (ATTRIBUTES, OBJECT_ATTRIBUTES) and event == "start_map":
                    builder = _Builder(prefix)
                elif prefix == "Event" and event == "start_map":
                    seen_event = True
                elif prefix == OBJECT and event == "start_map":
                    obj, object_deleted = {}, False
                elif prefix.startswith(OBJECT + ".") and prefix.count(".") == 3 and event not in _CONTAINERS:
                    key = prefix.rsplit(".", 1)[1]
                    if key == "deleted":
                        object_deleted = value is True or str(value).strip().lower() in ("1", "true")
                    elif key in OBJECT_FIELDS:
                        obj[key] = value
        except ijson.JSONError as err:
            raise FeedFormatError(f"{what}: not valid JSON ({str(err)[:200]})") from None
        if not seen_event:
            raise FeedFormatError(f"{what}: no 'Event' object: not a MISP event file")


_CONTAINERS = frozenset({"start_map", "end_map", "start_array", "end_array", "map_key"})


class _Builder:
    """Builds one attribute object from parser events (depth-tracked, so it knows its end)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._builder = ijson.ObjectBuilder()
        self._builder.event("start_map", None)
        self.depth = 0

    def event(self, event: str, value: Any) -> None:
        if event in ("start_map", "start_array"):
            self.depth += 1
        elif event in ("end_map", "end_array"):
            self.depth -= 1
        self._builder.event(event, value)

    def finish(self) -> Any:
        """The attribute, once its closing brace was read."""
        self._builder.event("end_map", None)
        return self._builder.value


def _records(
    attribute: Any, obj: Mapping[str, Any] | None, object_deleted: bool, rules: Rules
) -> Iterator[Mapping[str, Any]]:
    if not isinstance(attribute, dict) or not is_selected(attribute, rules):
        return
    for part in indicator_parts(str(attribute.get("type", "")), rules):
        yield {"attribute": attribute, "object": obj, "object_deleted": object_deleted, "part": part}
