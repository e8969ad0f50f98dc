"""What every canonicaliser shares: its result, the checks a raw value passes first, size limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from threatstream.canonical.errors import InvalidIndicator, excerpt
from threatstream.canonical.vocabulary import IndicatorType


class CanonicalIndicator(NamedTuple):
    """The canonical (type, value) of an indicator, and whether its input was defanged."""

    indicator_type: IndicatorType
    value: str
    refanged: bool = False


Canonicaliser: TypeAlias = Callable[[str], CanonicalIndicator]


# Limits, in UTF-8 bytes of the stripped value (host names and labels: in characters).

URL_MAX_BYTES = 8192
TEXT_MAX_BYTES = 2048
LONG_TEXT_MAX_BYTES = 32 * 1024
HOSTNAME_MAX_CHARS = 253
LABEL_MAX_CHARS = 63

# C0 and C1 control characters except TAB, LF and CR (which are whitespace), and lone
# surrogates (not Unicode scalar values, so not encodable as UTF-8).
_BAD_CHARACTER_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
WHITESPACE_RE = re.compile(r"\s")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def prepare(value: object) -> str:
    """Check the value is a non-blank string without control characters; return it stripped."""
    if not isinstance(value, str):
        if value is None:
            raise InvalidIndicator("empty", "value is missing (None)")
        raise InvalidIndicator("not_a_string", f"expected a string, got {type(value).__name__}")
    bad = _BAD_CHARACTER_RE.search(value)
    if bad is not None:
        if _SURROGATE_RE.search(value, bad.start()):
            raise InvalidIndicator("not_a_string", "value contains unpaired surrogates (not valid Unicode)")
        stripped = value.strip()
        if not stripped:
            raise InvalidIndicator("empty", "value is empty or whitespace only")
        raise InvalidIndicator(
            "control_character",
            f"{excerpt(stripped)} contains the control character U+{ord(bad.group()):04X}",
        )
    stripped = value.strip()
    if not stripped:
        raise InvalidIndicator("empty", "value is empty or whitespace only")
    return stripped


def check_size(value: str, limit: int) -> None:
    """Refuse a value of more than ``limit`` UTF-8 bytes (``too_long``)."""
    # Cheap bound first: a str of n code points has between n and 4n UTF-8 bytes.
    if len(value) * 4 <= limit:
        return
    size = len(value.encode("utf-8"))
    if size > limit:
        raise InvalidIndicator("too_long", f"value is {size} bytes long, the limit is {limit}")


def coerce_type(indicator_type: IndicatorType | str) -> IndicatorType:
    """The :class:`IndicatorType` of a type or its name (``unknown_type`` for another name)."""
    if isinstance(indicator_type, IndicatorType):
        return indicator_type
    try:
        return IndicatorType(indicator_type)
    except ValueError:
        raise InvalidIndicator(
            "unknown_type", f"unknown indicator type {excerpt(str(indicator_type))}"
        ) from None


def free_text(kind: IndicatorType, limit: int) -> Canonicaliser:
    """The canonicaliser of a free-text type: the text as received, within ``limit`` bytes."""

    def canonical_text(text: str) -> CanonicalIndicator:
        check_size(text, limit)
        return CanonicalIndicator(kind, text)

    return canonical_text
