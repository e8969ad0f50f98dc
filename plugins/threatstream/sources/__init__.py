"""The registry of feeds. Adding one: a module with a hook, ``split_records``,
``parse_record`` and a :class:`SourceSpec`, listed in :data:`SOURCES`."""

from __future__ import annotations

from threatstream.sources.abuseipdb import ABUSEIPDB
from threatstream.sources.base import SourceSpec
from threatstream.sources.cisa_kev import CISA_KEV
from threatstream.sources.feodo import FEODO
from threatstream.sources.malwarebazaar import MALWAREBAZAAR
from threatstream.sources.otx import OTX
from threatstream.sources.taxii import TAXII
from threatstream.sources.threatfox import THREATFOX
from threatstream.sources.urlhaus import URLHAUS

SOURCES: dict[str, SourceSpec] = {
    spec.name: spec for spec in (URLHAUS, OTX, ABUSEIPDB, FEODO, CISA_KEV, THREATFOX, MALWAREBAZAAR, TAXII)
}


def all_sources() -> list[SourceSpec]:
    """The built-in sources and the declarative list feeds (``include/feeds/lists/*.json``)."""
    from threatstream.sources.csv_list import list_sources

    return [*SOURCES.values(), *list_sources()]


def get_source(name: str) -> SourceSpec:
    """The spec of source ``name``: a built-in one, else a declarative list feed."""
    if name in SOURCES:
        return SOURCES[name]
    known = all_sources()
    for spec in known:
        if spec.name == name:
            return spec
    raise KeyError(f"Unknown ThreatStream source {name!r}; known: {sorted(s.name for s in known)}")


__all__ = ["SOURCES", "SourceSpec", "all_sources", "get_source"]
