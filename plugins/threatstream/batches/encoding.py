"""Encoding batch files: stored documents within a size bound, quarantine entries that always encode.

Pure functions, no I/O. Batch files are JSON lines in UTF-8 (``orjson``):

* :func:`encode_document` turns a canonical document into one line no larger than
  :data:`MAX_DOCUMENT_BYTES` (well under Cosmos DB's 2 MB item limit), dropping the largest
  ``raw_metadata`` fields first and naming them in ``raw_metadata["_trimmed"]``; a document
  that still does not fit raises :class:`~threatstream.canonical.InvalidIndicator` with
  reason ``too_large``.
* :func:`encode_entry` encodes a quarantine entry whatever the record holds: text JSON or
  UTF-8 cannot carry (lone surrogates) is backslash-escaped, integers beyond 64 bits become
  strings, nesting beyond :data:`MAX_ENTRY_DEPTH` and other types become their ``repr``,
  and a record larger than :data:`MAX_RECORD_BYTES` is cut, with ``record_truncated`` and
  ``record_bytes`` saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from threatstream.canonical.errors import InvalidIndicator

#: Upper bound of one stored document (Cosmos DB allows 2 MB per item and per request).
MAX_DOCUMENT_BYTES = 256 * 1024
#: Upper bound of the raw record kept in one quarantine entry.
MAX_RECORD_BYTES = 64 * 1024
#: Nesting kept in a quarantine entry; deeper values are stored as (cut) text.
MAX_ENTRY_DEPTH = 32
#: Key in ``raw_metadata`` listing the fields dropped to fit :data:`MAX_DOCUMENT_BYTES`.
TRIMMED_KEY = "_trimmed"

#: Datetimes are written as :func:`~threatstream.parsing.timestamps.format_utc` writes them: UTC, ``Z``.
_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
#: The same for a document whose keys are all strings, as the builder writes them.
_DOCUMENT_OPTIONS = _OPTIONS & ~orjson.OPT_NON_STR_KEYS
_INT_BOUND = 2**63


def encode_line(value: Any) -> bytes:
    """One JSON line (UTF-8, newline-terminated); raises ``orjson.JSONEncodeError`` if unencodable."""
    return orjson.dumps(value, option=_OPTIONS)


def decode_line(line: bytes | str) -> Any:
    """The value of one JSON line."""
    return orjson.loads(line)


def encode_document(document: Mapping[str, Any], max_bytes: int = MAX_DOCUMENT_BYTES) -> tuple[bytes, bool]:
    """Encode a stored document within ``max_bytes``; returns the line and whether it was trimmed.

    :raises InvalidIndicator: ``too_large`` when the document exceeds the bound even without
        its raw metadata, ``unencodable`` when it holds text UTF-8 cannot carry.
    """
    try:
        line = orjson.dumps(document, option=_DOCUMENT_OPTIONS)
    except orjson.JSONEncodeError:
        try:  # a key in raw metadata that is not a string (orjson is faster without that option)
            line = encode_line(document)
        except orjson.JSONEncodeError as err:
            raise InvalidIndicator("unencodable", f"the document cannot be encoded as JSON: {err}") from None
    if len(line) <= max_bytes:
        return line, False
    metadata = document.get("raw_metadata")
    if isinstance(metadata, Mapping) and metadata:
        kept = dict(metadata)
        sizes = sorted(((len(encode_line(value)), key) for key, value in kept.items()), reverse=True)
        dropped: list[str] = []
        for _, key in sizes:
            del kept[key]
            dropped.append(str(key))
            line = encode_line({**document, "raw_metadata": {**kept, TRIMMED_KEY: dropped}})
            if len(line) <= max_bytes:
                return line, True
    raise InvalidIndicator(
        "too_large", f"document is {len(line)} bytes without raw metadata, over the {max_bytes}-byte bound"
    )


def encode_entry(entry: Mapping[str, Any], *, max_record_bytes: int = MAX_RECORD_BYTES) -> bytes:
    """Encode a quarantine entry ``{..., "record": <raw record>}``; never raises for its content."""
    try:
        return _encode_entry(entry, max_record_bytes)
    except Exception as err:  # last resort: the entry is written, the record named
        fallback: dict[str, Any] = {
            str(key): _safe_repr(value, 4096) for key, value in entry.items() if key != "record"
        }
        fallback.update(record=f"<unencodable record: {type(err).__name__}>", record_truncated=True)
        return encode_line(fallback)


def _encode_entry(entry: Mapping[str, Any], max_record_bytes: int) -> bytes:
    safe = {str(key): _safe(value, 0) for key, value in entry.items() if key != "record"}
    if "record" in entry:
        record = _safe(entry["record"], 0)
        encoded = encode_line(record)
        if len(encoded) > max_record_bytes:
            text = encoded[:max_record_bytes].decode("utf-8", "ignore")
            safe.update(record=text, record_truncated=True, record_bytes=len(encoded) - 1)
        else:
            safe["record"] = record
    return encode_line(safe)


def _safe(value: Any, depth: int) -> Any:
    """``value`` with everything orjson cannot encode replaced by a faithful text form."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, int):
        return value if -_INT_BOUND <= value < _INT_BOUND else _safe_repr(value)
    if depth >= MAX_ENTRY_DEPTH:
        return _safe_repr(value)
    if isinstance(value, Mapping):
        return {_safe_text(str(key)): _safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item, depth + 1) for item in value]
    return _safe_repr(value)


def _safe_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _safe_repr(value: Any, limit: int = MAX_RECORD_BYTES) -> str:
    """``repr`` of a value, cut to ``limit`` characters; a value whose repr fails is named by type."""
    if isinstance(value, int):
        # str() of an int over ~4,300 digits raises ValueError (Python's conversion limit).
        return f"<int of {value.bit_length()} bits>" if value.bit_length() > 14_000 else str(value)
    try:
        text = repr(value)
    except Exception:  # deep nesting, hostile __repr__: still write the entry
        text = f"<unrepresentable {type(value).__name__}>"
    return _safe_text(text[:limit])
