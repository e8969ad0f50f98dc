"""Checking a feed's fetch options against its per-option JSON-schema fragments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threatstream.exceptions import FeedOptionError

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
}


def check_options(
    schema: Mapping[str, Mapping[str, Any]], options: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """``options`` checked against a per-option JSON-schema fragment, integers from strings coerced.

    Supports ``type`` (``integer``, ``number``, ``string``, ``boolean``, ``null`` or a list of
    them), ``minimum``, ``maximum`` and ``enum``. Options the schema does not name are refused
    when a schema is given. Raises :class:`FeedOptionError` naming the option.
    """
    checked: dict[str, Any] = {}
    for name, value in options.items():
        rules = schema.get(name)
        if rules is None:
            if schema:
                raise FeedOptionError(f"{what}: unknown fetch option '{name}'; known: {sorted(schema)}")
            checked[name] = value
            continue
        checked[name] = _check_option(name, value, rules, what)
    return checked


def _check_option(name: str, value: Any, rules: Mapping[str, Any], what: str) -> Any:
    types = rules.get("type", [])
    allowed = [types] if isinstance(types, str) else list(types)
    if value is None:
        if allowed and "null" not in allowed:
            raise FeedOptionError(f"{what}: fetch option '{name}' may not be null")
        return None
    if "integer" in allowed and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if "integer" in allowed and isinstance(value, float) and value.is_integer():
        value = int(value)
    matches = [t for t in allowed if t != "null" and isinstance(value, _JSON_TYPES[t])]
    if allowed and (not matches or (isinstance(value, bool) and "boolean" not in allowed)):
        raise FeedOptionError(f"{what}: fetch option '{name}' must be {' or '.join(allowed)}, got {value!r}")
    minimum, maximum = rules.get("minimum"), rules.get("maximum")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise FeedOptionError(
            f"{what}: fetch option '{name}' must be between {minimum} and {maximum}, got {value!r}"
        )
    if "enum" in rules and value not in rules["enum"]:
        raise FeedOptionError(f"{what}: fetch option '{name}' must be one of {rules['enum']}, got {value!r}")
    return value
