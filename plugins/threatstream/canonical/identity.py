"""Where a canonical indicator is stored: document ids and partition keys.

Both derive from the indicator type and the SHA-256 of the canonical value (never the raw
value), so the same indicator always lands on the same document:

* a source's document: id ``<source>:<type>:<sha256>`` (:func:`indicator_keys`);
* the merged view's document: id ``<type>:<sha256>`` (:func:`merged_keys`);
* both: partition key ``<type>_<xx>``, ``xx`` being the first two hex digits of the SHA-256.
"""

from __future__ import annotations

import hashlib
import re

from threatstream.canonical.text import coerce_type
from threatstream.canonical.vocabulary import IndicatorType

_SOURCE_RE = re.compile(r"[a-z0-9_.-]{1,64}")
_CHECKED_SOURCES: set[str] = set()


def check_source(source: str) -> None:
    """Refuse a source name that cannot be part of a document id (``[a-z0-9_.-]{1,64}``)."""
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, got {type(source).__name__}")
    if source in _CHECKED_SOURCES:
        return
    if not _SOURCE_RE.fullmatch(source):
        raise ValueError(f"source must match [a-z0-9_.-]{{1,64}}, got {source!r}")
    _CHECKED_SOURCES.add(source)


def indicator_keys(source: str, indicator_type: IndicatorType | str, canonical_value: str) -> tuple[str, str]:
    """``(id, partition key)`` of ``source``'s document: the merged document's, the id
    prefixed with ``source:``.

    :raises ValueError: a source name that cannot be part of an id, an unknown type.
    """
    if source not in _CHECKED_SOURCES:
        check_source(source)
    merged_id, partition_key = merged_keys(indicator_type, canonical_value)
    return f"{source}:{merged_id}", partition_key


def merged_keys(indicator_type: IndicatorType | str, canonical_value: str) -> tuple[str, str]:
    """``(id, partition key)`` of the merged view's document: ``type:sha256``, ``type_xx``."""
    # ``_value_`` is what the StrEnum formats as, without the call.
    kind: str = (
        indicator_type if isinstance(indicator_type, IndicatorType) else coerce_type(indicator_type)
    )._value_
    digest = hashlib.sha256(canonical_value.encode("utf-8")).hexdigest()
    return f"{kind}:{digest}", f"{kind}_{digest[:2]}"
