"""The bounds on what one feed may cost (``docs/feed-limits.md``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from threatstream.exceptions import FeedOptionError

MIB = 1 << 20


@dataclass(frozen=True)
class FeedLimits:
    """Bounds on what one feed may cost; see ``docs/feed-limits.md`` for each source's values.

    :param max_body_bytes: largest response body, counted after gzip/deflate decoding.
    :param max_request_seconds: longest wall-clock time of one request, redirects and body included.
    :param max_pages: most pages one run may fetch.
    :param max_records: most records one run may fetch.
    :param max_redirects: most same-host redirects one request may follow.
    """

    max_body_bytes: int = 32 * MIB
    max_request_seconds: float = 300.0
    max_pages: int = 1000
    max_records: int = 1_000_000
    max_redirects: int = 3

    def updated(self, overrides: Mapping[str, Any], where: str) -> FeedLimits:
        """These limits with ``overrides`` applied; a bad value raises :class:`FeedOptionError`."""
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if value is None:
                continue
            integer = name != "max_request_seconds"
            number = _positive_number(value, integer=integer)
            if number is None:
                kind = "a positive integer" if integer else "a positive number"
                raise FeedOptionError(f"{where}: '{name}' must be {kind}, got {value!r}")
            changes[name] = number
        return dataclasses.replace(self, **changes)


#: Names of the limits; a connection extra with one of these names sets it (and is not a header).
LIMIT_NAMES = frozenset(field.name for field in dataclasses.fields(FeedLimits))


def _positive_number(value: Any, *, integer: bool) -> float | int | None:
    """``value`` as a positive finite number (an integer if ``integer``), or None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not (number > 0 and math.isfinite(number)):
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return number
