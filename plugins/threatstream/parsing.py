"""Small pure helpers that source parsers share: timestamps, JSON pages, tag lists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from threatstream.exceptions import FeedFormatError

_SPACE_UTC = re.compile(r"\s*(UTC|GMT|Z)$", re.IGNORECASE)


def parse_timestamp(value: Any) -> datetime | None:
    """Parse a feed timestamp into an aware UTC datetime; None for null/empty.

    Accepts ISO 8601 with or without offset or ``Z``, with 0, 3 or 6 fraction digits, a
    space instead of ``T`` and a trailing `` UTC`` (abuse.ch). Naive values are UTC.

    :raises ValueError: the value is not a timestamp.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    had_utc_suffix = bool(_SPACE_UTC.search(text))
    text = _SPACE_UTC.sub("", text)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or had_utc_suffix:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.astimezone(UTC)


def load_json_page(body: bytes, what: str) -> Any:
    """Decode a JSON response page or raise :class:`FeedFormatError` naming ``what``."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        preview = body[:80].decode("utf-8", "replace")
        raise FeedFormatError(f"{what}: response is not JSON ({err}); starts with {preview!r}") from None


def string_list(value: Any) -> tuple[str, ...]:
    """Strings from a list that may be null, hold non-strings, or hold ``{"name": ...}`` objects."""
    if value is None or value == "":
        return ()
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    result: list[str] = []
    for item in items:
        if isinstance(item, dict):
            text = item.get("display_name") or item.get("name") or item.get("id")
        else:
            text = item
        if text is not None and str(text).strip():
            result.append(str(text).strip())
    return tuple(result)
