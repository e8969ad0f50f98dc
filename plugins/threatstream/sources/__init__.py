"""The registry of feeds. Adding one: a module with a hook, ``split_records``,
``parse_record`` and a :class:`SourceSpec`, listed in :data:`SOURCES`."""

from __future__ import annotations

from threatstream.sources.abuseipdb import ABUSEIPDB
from threatstream.sources.base import SourceSpec
from threatstream.sources.cisa_kev import CISA_KEV
from threatstream.sources.feodo import FEODO
from threatstream.sources.malwarebazaar import MALWAREBAZAAR
from threatstream.sources.otx import OTX
from threatstream.sources.threatfox import THREATFOX
from threatstream.sources.urlhaus import URLHAUS

SOURCES: dict[str, SourceSpec] = {
    spec.name: spec for spec in (URLHAUS, OTX, ABUSEIPDB, FEODO, CISA_KEV, THREATFOX, MALWAREBAZAAR)
}


def get_source(name: str) -> SourceSpec:
    """The spec of source ``name``."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"Unknown ThreatStream source {name!r}; known: {sorted(SOURCES)}") from None


__all__ = ["SOURCES", "SourceSpec", "get_source"]
