"""JSON pages, whole or streamed item by item, within bounds on nesting and record size.

A page of bounded size is decoded whole (:func:`load_json_page`); a list in a page of any size
is streamed (:func:`iter_json_array`), decoded by ``orjson`` where it reads as the streaming
parser (``ijson``) would and by ``ijson`` otherwise. :class:`JsonDepthGuard` refuses nesting
and records beyond the bounds before either parser sees them.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Generator, Iterable, Iterator
from itertools import accumulate
from typing import Any

import ijson
import orjson

from threatstream.exceptions import FeedFormatError
from threatstream.parsing.streams import READ_BYTES, ByteStream, ChainedReader, ChunkReader, read_up_to

#: Deepest JSON nesting a page may have. Real feeds nest 5 levels at most; a record nested
#: deeper than that but within this bound is quarantined alone by ``validate``, while a page
#: beyond it is refused before the parser sees it (the parser's memory grows with depth squared).
MAX_JSON_DEPTH = 512
#: Largest single record of a streamed list (an AbuseIPDB row is about 125 bytes).
MAX_RECORD_BYTES = 1 << 20


def load_json_page(body: bytes | ByteStream, what: str) -> Any:
    """Decode a whole JSON page (bytes or a binary stream) or raise :class:`FeedFormatError`.

    For pages whose size is already bounded (the hook's ``max_body_bytes``). Garbage of any
    kind, including nesting deeper than the interpreter's recursion limit, integers longer
    than Python's digit limit and invalid UTF-8, is a :class:`FeedFormatError`: retrying
    cannot fix it.
    """
    data = body if isinstance(body, bytes) else body.read()
    try:
        return json.loads(data)
    except RecursionError:
        raise FeedFormatError(f"{what}: JSON nested too deeply; {_preview(data)}") from None
    except (UnicodeDecodeError, ValueError) as err:  # ValueError: JSONDecodeError, int digit limit
        raise FeedFormatError(
            f"{what}: response is not JSON ({_first_line(err)}); {_preview(data)}"
        ) from None


def iter_json_array(
    source: ByteStream, path: str, what: str, *, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[Any]:
    """Stream the items of the list at dotted ``path`` (e.g. ``data``) of a JSON document.

    Memory stays flat whatever the document's size: a document of less than
    :data:`WHOLE_DOCUMENT_BYTES` (a page of a paged feed) is decoded in one go, a larger one's
    top-level list of objects in slices of at most :data:`SLICE_BYTES`, both by ``orjson``
    when nothing in them needs the streaming parser's care; otherwise items are built one at
    a time by ``ijson``'s C backend.
    Nesting deeper than :data:`MAX_JSON_DEPTH` is refused before the parser sees it, numbers
    are read as ``int``/``float`` (an integer beyond 64 bits is refused), an item larger than
    ``max_record_bytes`` is refused before it is built, and a document without a list at
    ``path`` is a :class:`FeedFormatError`, so a changed shape never passes as an empty page.
    """
    guarded = JsonDepthGuard(
        source, what, record_depth=path.count(".") + 2, max_record_bytes=max_record_bytes
    )
    head = read_up_to(guarded, WHOLE_DOCUMENT_BYTES)
    complete = len(head) < WHOLE_DOCUMENT_BYTES
    if complete:
        items = _plain_list_at(head, path)
        if items is not None:
            yield from items
            return
    shape_known = _list_starts_in(head, path, what, complete=complete)
    rest = head
    if shape_known and "." not in path:
        unread = yield from _items_in_slices(head, guarded, path)
        if unread is None:
            return
        rest = unread
    stream = ChainedReader(rest, guarded)
    seen: list[bool] = []
    try:
        if shape_known:
            yield from ijson.items(stream, f"{path}.item", use_float=True, buf_size=READ_BYTES)
            return
        events = _checked_events(ijson.parse(stream, use_float=True, buf_size=READ_BYTES), path, what, seen)
        yield from ijson.items(events, f"{path}.item")
    except ijson.JSONError as err:
        raise FeedFormatError(
            f"{what}: response is not valid JSON ({_first_line(err)}); {_preview(head)}"
        ) from None
    except (UnicodeDecodeError, RecursionError) as err:
        raise FeedFormatError(f"{what}: unreadable JSON ({type(err).__name__}: {_first_line(err)})") from None
    if not seen:
        raise FeedFormatError(f"{what}: expected a '{path}' list; {_preview(head)}")


def _items_in_slices(head: bytes, source: ByteStream, key: str) -> Generator[Any, None, bytes | None]:
    """The items of the top-level list ``key`` of a large document, decoded by ``orjson`` a
    slice of about :data:`SLICE_BYTES` at a time, each slice ending at the end of an item.

    ``head`` is the document's start, holding the list's start; ``source`` the rest. Returns
    None once the list and the document have been read. Where ``orjson`` cannot be trusted
    to read as the streaming parser would (see :func:`_plain_items`), or the items are not
    objects, returns what the streaming parser is to read instead: ``head`` if nothing was
    taken, else the document from the first item not yet yielded, behind ``{"<key>": [``.
    """
    quoted = b'"%s"' % key.encode()
    start = re.search(rb"%s\s*:\s*\[" % re.escape(quoted), head)
    if start is None or not _object_opening(head[: start.start()], quoted):
        return head
    resume = b"{%s:[" % quoted
    pending, offset = head[start.end() :], 0
    while True:
        if len(pending) - offset < SLICE_BYTES:
            more = read_up_to(source, SLICE_BYTES)
            pending, offset = pending[offset:] + more, 0
            if not more:
                break
        items, offset_after = _whole_items(pending, offset, offset + SLICE_BYTES)
        if items is None:
            return resume + pending[offset:]
        yield from items
        offset = offset_after
    tail = None if quoted in pending else _plain_items(resume + pending, key)
    if tail is None:
        return resume + pending
    yield from tail
    return None


def _whole_items(inside: bytes, start: int, end: int) -> tuple[list[Any] | None, int]:
    """The items ``inside[start:end]`` (part of a list's inside, from an item's start) holds
    whole, and where the rest starts: up to the last ``},`` that closes an item (the last few
    are tried; one inside a string or a nested list does not decode)."""
    for _ in range(_SLICE_CUT_TRIES):
        cut = inside.rfind(b"},", start, end)
        if cut < 0:
            break
        items = _plain_items(b"[%s]" % inside[start : cut + 1])
        if items is not None:
            return items, cut + 2
        end = cut
    return None, start


def _object_opening(before: bytes, quoted_key: bytes) -> bool:
    """Whether ``before`` is the opening of a JSON object, up to a member's key, without that key."""
    opening = before.rstrip()
    if opening == b"{":
        return True
    if not opening.endswith(b",") or _may_hold_long_integer(opening):
        return False
    try:
        members = orjson.loads(opening[:-1] + b"}")
    except orjson.JSONDecodeError:
        return False
    return isinstance(members, dict) and quoted_key not in opening


def _plain_items(document: bytes, path: str | None = None) -> list[Any] | None:
    """The list ``document`` is (or holds at dotted ``path``), as ``orjson`` decodes it; None
    for anything the streaming parser must judge: invalid JSON or UTF-8, lone surrogates,
    numbers out of range, digit runs that may be integers beyond 64 bits (``orjson`` would
    make them floats; see :func:`_may_hold_long_integer`), another shape."""
    if _may_hold_long_integer(document):
        return None
    try:
        value = orjson.loads(document)
    except orjson.JSONDecodeError:
        return None
    for key in path.split(".") if path is not None else ():
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, list) else None


def _may_hold_long_integer(document: bytes) -> bool:
    """Whether ``document`` may hold a JSON number with 19 digits or more in a row.

    Every such run of digits is found in one pass; one counts unless the text just before it
    shows that it is inside a string (as in an id, a digest or a sentence): the number it
    would be part of, and the whitespace before it, come after something other than ``[``,
    ``:``, ``,`` or the document's start. When unsure (a run after ``": "`` inside a
    string, say), it counts.
    """
    zeros = document.translate(_DIGITS_AS_ZERO)
    judged_to = 0  # the text before this has been judged with the runs before
    at = zeros.find(_LONG_DIGIT_RUN)
    while at >= 0:
        start = at
        while start > judged_to and document[start - 1] in _NUMBER_BYTES:
            start -= 1
        # Number characters reaching back to the run before: the same token, judged already
        # (each byte is looked at once, so this stays linear whatever the document holds).
        if not (0 < start == judged_to and document[start - 1] in _NUMBER_BYTES):
            while start > 0 and document[start - 1] in _JSON_SPACE:
                start -= 1
            if start == 0 or document[start - 1] in _BEFORE_NUMBER:
                return True
        run_end = _NOT_ZERO.search(zeros, at)
        if run_end is None:
            return False
        judged_to = run_end.end()
        at = zeros.find(_LONG_DIGIT_RUN, judged_to)
    return False


def _plain_list_at(document: bytes, path: str) -> list[Any] | None:
    """The list at dotted ``path`` of a whole small document, decoded by ``orjson`` in one go.

    None for anything the streaming parser must judge, so that both ways read every
    document alike (see :func:`_plain_items`), and for a key of ``path`` written more than
    once (the stream reads every list so named).
    """
    if any(document.count(b'"%s"' % key.encode()) != 1 for key in path.split(".")):
        return None
    return _plain_items(document, path)


def json_value(document: bytes, path: str, what: str) -> Any:
    """The value at dotted ``path`` of a whole (bounded) JSON document, or None; builds nothing else."""
    try:
        return next(ijson.items(JsonDepthGuard(io.BytesIO(document), what), path, use_float=True), None)
    except ijson.JSONError as err:
        raise FeedFormatError(
            f"{what}: response is not valid JSON ({_first_line(err)}); {_preview(document)}"
        ) from None
    except UnicodeDecodeError as err:
        raise FeedFormatError(f"{what}: unreadable JSON ({_first_line(err)})") from None


def first_json_value(head: bytes, path: str) -> Any:
    """The scalar at dotted ``path`` if it occurs in ``head`` (a document's first bytes), else None."""
    try:
        events = ijson.parse(JsonDepthGuard(io.BytesIO(head), "head"), use_float=True, buf_size=_SCAN_BYTES)
        for prefix, event, value in events:
            if prefix == path and event not in ("start_map", "start_array", "map_key"):
                return value
    except (ijson.JSONError, FeedFormatError, UnicodeDecodeError):
        return None
    return None


#: A document smaller than this (a page of a paged feed) is decoded whole when it can be.
WHOLE_DOCUMENT_BYTES = 2 << 20
#: A larger document's list is decoded in slices of at most this size when it can be.
SLICE_BYTES = 1 << 17
_SLICE_CUT_TRIES = 4
#: 19 digits in a row may be an integer beyond 64 bits, which only the streaming parser refuses
#: (found by turning every digit into ``0``: one pass, then a substring search per run).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19
_NOT_ZERO = re.compile(rb"[^0]")
#: What a JSON number is made of, and what may come before one (besides whitespace).
_NUMBER_BYTES = frozenset(b"0123456789+-.eE")
_JSON_SPACE = frozenset(b" \t\r\n")
_BEFORE_NUMBER = frozenset(b"[:,")
#: Scans of a document's head read small chunks: they stop at the first match, and the parser
#: turns a whole chunk into events before yielding the first.
_SCAN_BYTES = 1 << 10
_STRUCTURE_ONLY = bytes(set(range(256)) - set(b'"[]{}'))
_STRING = re.compile(rb'"[^"]*"')
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_BRACKETS_AS_BRACES = bytes.maketrans(b"[]", b"{}")
_PAIR_PASSES = 8
_DEPTH_STEP = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _DEPTH_STEP[_open], _DEPTH_STEP[_close] = 1, -1


class JsonDepthGuard(ChunkReader):
    """A pass-through reader that fails when the JSON it carries nests deeper than a bound,
    or (given ``record_depth``) when one record, a value nested below that depth, is too large.

    ``ijson`` keeps one prefix string per open level, so memory grows with the square of
    the depth (20,000 levels cost about 1 GB), and it builds each record whole, as Python
    objects up to 25 times the size of their JSON (``[{},{},...]``): the guard checks each
    chunk before the parser sees it. It tracks only what changes depth (brackets outside
    strings, string and escape state across chunk boundaries) with bytes-level operations,
    so it costs little next to parsing. A record's size is counted in whole chunks, so it
    may be overestimated by one chunk.
    """

    def __init__(
        self,
        source: ByteStream,
        what: str,
        max_depth: int = MAX_JSON_DEPTH,
        *,
        record_depth: int | None = None,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        super().__init__()
        self._source = source
        self._what = what
        self._max_depth = max_depth
        self._record_depth = record_depth
        self._max_record_bytes = max_record_bytes
        self._record_bytes = 0
        self._depth = 0
        self._in_string = False
        self._escaped_first = False

    def read_chunk(self, size: int) -> bytes:
        data = self._source.read(size)
        if data:
            self._check(data)
        return data

    def _check(self, chunk: bytes) -> None:
        if self._escaped_first:
            chunk = chunk[1:]
        trailing_backslashes = len(chunk) - len(chunk.rstrip(b"\\"))
        self._escaped_first = trailing_backslashes % 2 == 1
        # An escape sequence never delimits a string; then keep only quotes and brackets.
        unescaped = _ESCAPE.sub(b"", chunk) if b"\\" in chunk else chunk
        structure = unescaped.translate(None, _STRUCTURE_ONLY)
        if self._in_string:
            structure = b'"' + structure
        # Adjacent quotes are an empty string or the gap between two strings: neither holds brackets.
        outside = _STRING.sub(b"", structure.replace(b'""', b""))
        self._in_string = b'"' in outside
        lowest, highest, last = self._levels(outside.split(b'"', 1)[0])
        self._depth = last
        if highest > self._max_depth:
            raise FeedFormatError(f"{self._what}: JSON nested deeper than {self._max_depth} levels")
        if self._record_depth is not None:
            self._count_record_bytes(len(chunk), lowest, last, self._record_depth)

    def _levels(self, brackets: bytes) -> tuple[int, int, int]:
        """The lowest, highest (or a bound of it within ``max_depth``) and last nesting level
        over ``brackets``, from the current depth.

        When the openers alone cannot pass ``max_depth``, only the lowest level is needed: it
        is the same once each opener directly followed by a closer is taken out, a few passes
        of which leave only closers then openers (``]]}{[``) for the nesting of real feeds.
        """
        depth = self._depth
        openers = brackets.count(b"{") + brackets.count(b"[")
        last = depth + 2 * openers - len(brackets)
        if depth + openers <= self._max_depth:
            reduced = brackets.translate(_BRACKETS_AS_BRACES)
            for _ in range(_PAIR_PASSES):
                if b"{}" not in reduced:
                    return depth - reduced.count(b"}"), depth + openers, last
                reduced = reduced.replace(b"{}", b"")
        levels = list(accumulate(map(_DEPTH_STEP.__getitem__, brackets), initial=depth))
        return min(levels), max(levels), last

    def _count_record_bytes(self, size: int, lowest: int, last: int, record_depth: int) -> None:
        if lowest > record_depth:  # the whole chunk is inside one record
            self._record_bytes += size
        else:  # a record ended here; the next one has at most this chunk so far
            self._record_bytes = size if last > record_depth else 0
        if self._record_bytes > self._max_record_bytes:
            raise FeedFormatError(
                f"{self._what}: a record larger than {self._max_record_bytes} bytes of JSON"
            )


def _list_starts_in(head: bytes, path: str, what: str, *, complete: bool) -> bool:
    """Whether ``head`` shows a list starting at ``path``; False when it cannot tell yet.

    Raises :class:`FeedFormatError` when ``head`` shows another value at ``path`` or is the
    whole document and has no such list.
    """
    try:
        for prefix, event, _ in ijson.parse(io.BytesIO(head), use_float=True, buf_size=_SCAN_BYTES):
            if prefix == path:
                if event == "start_array":
                    return True
                raise FeedFormatError(f"{what}: expected a list at '{path}', found {event}; {_preview(head)}")
    except ijson.JSONError as err:
        if complete:
            raise FeedFormatError(
                f"{what}: response is not valid JSON ({_first_line(err)}); {_preview(head)}"
            ) from None
        return False
    except (ValueError, UnicodeDecodeError) as err:
        raise FeedFormatError(f"{what}: unreadable JSON ({_first_line(err)}); {_preview(head)}") from None
    if complete:
        raise FeedFormatError(f"{what}: expected a '{path}' list; {_preview(head)}")
    return False


def _checked_events(
    events: Iterable[tuple[str, str, Any]], path: str, what: str, seen: list[bool]
) -> Iterator[tuple[str, str, Any]]:
    for event in events:
        if event[0] == path and not seen:
            if event[1] != "start_array":
                raise FeedFormatError(f"{what}: expected a list at '{path}', found {event[1]}")
            seen.append(True)
        yield event


def _first_line(error: BaseException) -> str:
    detail = error.args[0] if error.args else ""
    text = (detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _preview(data: bytes) -> str:
    return f"starts with {data[:80].decode('utf-8', 'replace')!r}"
