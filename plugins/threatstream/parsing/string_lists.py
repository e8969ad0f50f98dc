"""Lists of strings as feeds write them: null, mixed with non-strings, or of named objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def string_list(value: Any) -> tuple[str, ...]:
    """Strings from a list that may be null, hold non-strings, or hold ``{"name": ...}`` objects."""
    if value is None or value == "":
        return ()
    if type(value) is list:  # the common case first: strings only, none blank
        try:
            plain = tuple(map(str.strip, value))
        except TypeError:  # an item that is not a string
            pass
        else:
            if all(plain):
                return plain
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    result: list[str] = []
    for item in items:
        if isinstance(item, dict):
            named = item.get("display_name") or item.get("name") or item.get("id")
        else:
            named = item
        if named is not None and (stripped := (named if isinstance(named, str) else str(named)).strip()):
            result.append(stripped)
    return tuple(result)
