"""JSON pages: decoded whole or streamed, bounded in depth and record size, read alike both ways."""

from __future__ import annotations

import io
import json
import time
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threatstream.exceptions import FeedFormatError
from threatstream.parsing.json_stream import JsonDepthGuard, first_json_value, iter_json_array, load_json_page


def test_load_json_page_names_what_failed() -> None:
    with pytest.raises(FeedFormatError, match="OTX page: response is not JSON"):
        load_json_page(b"<html>504 Gateway Time-out</html>", "OTX page")


# -- streamed JSON ---------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\\\:,é\u2028'), max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63) + 1, 2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


class _Trickle:
    """A stream that returns at most ``step`` bytes a read (chunk boundaries everywhere)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step = data, step

    def read(self, size: int = -1, /) -> bytes:
        chunk, self._data = self._data[: min(size, self._step)], self._data[min(size, self._step) :]
        return chunk

    def close(self) -> None:
        pass


def _drain(guard: JsonDepthGuard) -> bytes:
    return b"".join(iter(lambda: guard.read(7), b""))


@given(value=_JSON, step=st.integers(1, 9), ascii_only=st.booleans())
def test_depth_guard_measures_nesting_across_any_chunk_boundaries(
    value: Any, step: int, ascii_only: bool
) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth = _depth(value)
    assert _drain(JsonDepthGuard(_Trickle(data, step), "t", max_depth=depth)) == data
    if depth:
        with pytest.raises(FeedFormatError, match="nested deeper"):
            _drain(JsonDepthGuard(_Trickle(data, step), "t", max_depth=depth - 1))


@settings(max_examples=500)
@given(st.text("[]{}", max_size=120), st.integers(0, 30), st.integers(0, 40))
def test_depth_guard_levels_are_those_of_every_bracket(brackets: str, depth: int, max_depth: int) -> None:
    """The shortcut for the lowest level gives what following each bracket gives, and the
    bound on the highest level fails exactly where the highest level does."""
    guard = JsonDepthGuard(io.BytesIO(b""), "t", max_depth=max_depth)
    guard._depth = depth
    levels = list(accumulate((1 if b in "[{" else -1 for b in brackets), initial=depth))
    lowest, highest, last = guard._levels(brackets.encode())
    assert (lowest, last) == (min(levels), levels[-1])
    assert highest >= max(levels)
    assert (highest > max_depth) == (max(levels) > max_depth)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": [' + b"[" * 520 + b"]" * 520 + b"]}", "nested deeper than 512"),
        (b'{"data": [123456789012345678901234567890]}', "integer overflow"),
        (b'{"data": {"a": 1}}', "expected a list at 'data'"),
        (b'{"rows": []}', "expected a 'data' list"),
        (b"<html>502</html>", "not valid JSON"),
        (b'{"data": [1, 2]} trailing', "not valid JSON"),
        (b'{"data": ["\xff"]}', "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_iter_json_array_refuses_garbage(body: bytes, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        list(iter_json_array(io.BytesIO(body), "data", "page"))


def test_iter_json_array_streams_items_with_native_numbers() -> None:
    body = b'{"meta": {"x": "[{"}, "data": [{"a": 1.5, "b": [1, "]"]}, 2, null]}'
    assert list(iter_json_array(io.BytesIO(body), "data", "page")) == [{"a": 1.5, "b": [1, "]"]}, 2, None]
    assert list(iter_json_array(io.BytesIO(b'{"data": []}'), "data", "page")) == []
    late = b'{"meta": "' + b"x" * 200_000 + b'", "data": [1]}'  # the list starts after the first buffer
    assert list(iter_json_array(io.BytesIO(late), "data", "page")) == [1]


def test_first_json_value_reads_only_a_head() -> None:
    head = b'{"meta": {"generatedAt": "2026-11-28T12:00:00+00:00"}, "data": [{"ipAdd'
    assert first_json_value(head, "meta.generatedAt") == "2026-11-28T12:00:00+00:00"
    assert first_json_value(b'{"data": [' + b"[" * 5000, "meta.generatedAt") is None
    assert first_json_value(b"<html>", "meta.generatedAt") is None


@pytest.mark.parametrize(
    "body", [b"[" * 100_000 + b"]" * 100_000, b'{"a": ' + b"9" * 5000 + b"}", b'{"a": "\xff"}']
)
def test_load_json_page_turns_any_garbage_into_a_format_error(body: bytes) -> None:
    with pytest.raises(FeedFormatError):
        load_json_page(io.BytesIO(body), "page")


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63) + 1, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


def _both_ways(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """What iter_json_array gives for ``body`` decoded whole and streamed: items or the error."""

    def outcome() -> object:
        try:
            return list(iter_json_array(io.BytesIO(body), "data", "page"))
        except FeedFormatError as error:  # the message, without the preview of the first bytes read
            return f"FeedFormatError: {str(error).split('; starts with')[0]}"

    whole = outcome()
    with monkeypatch.context() as patch:
        patch.setattr("threatstream.parsing.json_stream.WHOLE_DOCUMENT_BYTES", 1)
        streamed = outcome()
    return whole, streamed


@settings(max_examples=200, deadline=None)
@given(st.lists(_json_values, max_size=5))
def test_small_documents_decoded_whole_read_as_streamed(items: list[object]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        whole, streamed = _both_ways(json.dumps({"meta": 1, "data": items}).encode(), monkeypatch)
    assert whole == streamed == json.loads(json.dumps(items))


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"a": 18446744073709551616}]}',  # beyond 64 bits: orjson would give a float
        b'{"data": [{"a": 9223372036854775808}]}',  # beyond a signed 64-bit integer
        b'{"data": [{"a":"x","b":-18446744073709551616}]}',  # after a colon, negative
        b'{"data": [[1,\n18446744073709551616]]}',  # after a newline
        b'{"data": [18446744073709551616, "00000000000000000000"]}',  # first in a list
        b'{"data": [1.5e18446744073709551616]}',  # in an exponent
        b'{"data": ["id: 00000000000000000000"]}',  # a string that looks like a member
        b'{"data": ["lone \\ud800 surrogate"]}',  # orjson refuses it; the stream reads "?"
        b'{"data": [1e400]}',
        b'{"data": {"a": 1}}',
        b'{"data": [1]} trailing',
        b'{"data": ["\xff"]}',
        b'{"data": [1], "data": [2]}',
        b'[{"data": [1]}]',
    ],
)
def test_documents_only_the_stream_can_judge_read_as_streamed(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, streamed = _both_ways(body, monkeypatch)
    assert whole == streamed


_digit_strings = st.from_regex(r"[0-9a-f: ]{0,40}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=3), st.integers() | _digit_strings, max_size=4), max_size=6))
def test_long_digit_runs_read_as_streamed(items: list[object]) -> None:
    """Integers of any size and digit-heavy strings (ids, digests): the whole-document decoder
    refuses the same integers beyond 64 bits as the stream, and reads the same strings."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        whole, streamed = _both_ways(json.dumps({"data": items}).encode(), monkeypatch)
    assert whole == streamed


def test_digit_runs_inside_strings_keep_the_whole_document_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids and digests with 19 digits or more in a row are strings, not integers beyond 64 bits:
    they do not send a page to the (slower) streaming parser."""
    rows = [
        {"id": f"{i:024x}", "sha256": "0123456789" * 6 + f"{i:04x}", "note": f"ticket {10**25 + i}"}
        for i in range(100)
    ]
    body = json.dumps({"data": rows}).encode()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the streaming parser was used")

    monkeypatch.setattr("threatstream.parsing.json_stream.ijson.items", refuse)
    assert list(iter_json_array(io.BytesIO(body), "data", "page")) == rows
    with monkeypatch.context() as patch:
        patch.setattr("threatstream.parsing.json_stream.WHOLE_DOCUMENT_BYTES", 64)
        patch.setattr("threatstream.parsing.json_stream.SLICE_BYTES", 512)
        assert list(iter_json_array(io.BytesIO(body), "data", "page")) == rows


def test_digit_runs_are_judged_in_linear_time() -> None:
    """Runs chained by number characters inside one string: each byte is looked at once (a
    walk back to the string's start for each run would take minutes on this 200 KB page)."""
    chained = b'{"data": ["x' + (b"1" * 19 + b"e") * 10_000 + b'"]}'
    started = time.process_time()
    assert list(iter_json_array(io.BytesIO(chained), "data", "page")) == [chained[11:-3].decode()]
    assert time.process_time() - started < 10


def _outcome(body: bytes, whole_bytes: int, slice_bytes: int) -> object:
    """iter_json_array's items for ``body`` (or its error) with the given thresholds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("threatstream.parsing.json_stream.WHOLE_DOCUMENT_BYTES", whole_bytes)
        patch.setattr("threatstream.parsing.json_stream.SLICE_BYTES", slice_bytes)
        try:
            return list(iter_json_array(io.BytesIO(body), "data", "page"))
        except FeedFormatError as error:
            return f"FeedFormatError: {str(error).split('; starts with')[0]}"


_tricky_values = st.sampled_from(["},{", '"},{"', "}, {", [{"a": 1}, {"b": 2}], {"c": [{}, {}]}])
_rows = st.lists(st.dictionaries(st.text(max_size=5), _json_values | _tricky_values, max_size=4), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_rows, _json_values, st.integers(20, 90), st.integers(4, 120), st.booleans())
def test_large_documents_decoded_in_slices_read_as_streamed(
    rows: list[dict[str, object]], meta: object, head_bytes: int, slice_bytes: int, spaced: bool
) -> None:
    separators = (", ", ": ") if spaced else (",", ":")
    body = json.dumps({"meta": meta, "data": rows, "after": meta}, separators=separators).encode()
    streamed = _outcome(body, 1, slice_bytes)
    assert _outcome(body, head_bytes, slice_bytes) == streamed == json.loads(json.dumps(rows))


def test_a_large_list_of_objects_is_decoded_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatstream.parsing import json_stream

    rows = [{"ipAddress": f"45.0.{i // 256}.{i % 256}", "score": i} for i in range(2000)]
    body = json.dumps({"meta": {"n": 2000}, "data": rows}).encode()
    sliced: list[int] = []
    whole_items = json_stream._whole_items

    def counted(inside: bytes, start: int, end: int) -> tuple[list[Any] | None, int]:
        items, rest = whole_items(inside, start, end)
        sliced.append(len(items or []))
        return items, rest

    monkeypatch.setattr(json_stream, "_whole_items", counted)
    assert _outcome(body, 1024, 4096) == rows
    assert len(sliced) > 10
    assert sum(sliced) > 1900  # all but the tail's few rows came in slices


@pytest.mark.parametrize(
    "inside",
    [
        b'{"a": 18446744073709551616}',
        b'{"a": "lone \\ud800 surrogate"}',
        b'{"a": 1e400}',
        b'{"a": "\xff"}',
        b'{"a": 1}], "data": [{"b": 2}',
    ],
)
def test_large_documents_only_the_stream_can_judge_read_as_streamed(inside: bytes) -> None:
    rows = b",".join([b'{"x": %d}' % i for i in range(50)] + [inside] + [b'{"y": %d}' % i for i in range(50)])
    for body in (b'{"meta": 1, "data": [%s]}' % rows, b'{"data": [%s]} trailing' % rows):
        assert _outcome(body, 64, 100) == _outcome(body, 1, 100)
