"""The one registry of sources: the built-in feeds, the declarative list feeds and the MISP
feeds, alike.

Everything derived from a source (its DAG, connection, pool, Asset, storage folder, scoring
weight, default confidence and deadline) comes from its :class:`SourceSpec`, and every
consumer (the DAG factory, the merged view's schedule, retention, pools, the STIX export,
scoring, the docs) iterates :func:`all_sources`. A list spec added to the specs folder
(``THREATSTREAM_LIST_SPECS``, default ``include/feeds/lists``), or a MISP feed spec added to
``THREATSTREAM_MISP_SPECS`` (default ``include/feeds/misp``), is picked up everywhere with no
code change.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from threatstream.merged.scoring import ScoringPolicy
from threatstream.naming import RESERVED_SOURCE_NAMES
from threatstream.settings import settings
from threatstream.sources.abuseipdb import ABUSEIPDB
from threatstream.sources.base import SourceSpec
from threatstream.sources.cisa_kev import CISA_KEV
from threatstream.sources.feodo import FEODO
from threatstream.sources.lists import list_sources, specs_dir
from threatstream.sources.malwarebazaar import MALWAREBAZAAR
from threatstream.sources.misp import misp_sources
from threatstream.sources.misp import specs_dir as misp_specs_dir
from threatstream.sources.otx import OTX
from threatstream.sources.taxii import TAXII
from threatstream.sources.threatfox import THREATFOX
from threatstream.sources.urlhaus import URLHAUS

#: The feeds with a module of their own, in the order the docs list them.
BUILT_IN_SOURCES: tuple[SourceSpec, ...] = (
    URLHAUS,
    OTX,
    ABUSEIPDB,
    FEODO,
    CISA_KEV,
    THREATFOX,
    MALWAREBAZAAR,
    TAXII,
)


class RegistryError(ValueError):
    """Two sources share a name, or a list spec cannot be loaded."""


def all_sources() -> tuple[SourceSpec, ...]:
    """Every registered source: the built-in feeds, then the list specs sorted by name, then the
    MISP feed specs sorted by name.

    Specs are read again only when a specs folder or one of its files changed.

    :raises RegistryError: two sources share a name.
    :raises ListSpecError: a list spec is invalid.
    :raises MispSpecError: a MISP feed spec is invalid.
    """
    folder, misp_folder = specs_dir(), misp_specs_dir()
    return _registry(folder, _stamp(folder), misp_folder, _stamp(misp_folder))


def _stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.json")))
    except OSError:
        return ()


@functools.lru_cache(maxsize=8)
def _registry(
    folder: Path,
    stamp: tuple[tuple[str, int], ...],
    misp_folder: Path,
    misp_stamp: tuple[tuple[str, int], ...],
) -> tuple[SourceSpec, ...]:
    sources = (*BUILT_IN_SOURCES, *list_sources(folder), *misp_sources(misp_folder))
    seen: dict[str, SourceSpec] = {}
    for spec in sources:
        if spec.name in RESERVED_SOURCE_NAMES:
            raise RegistryError(
                f"a source may not be named {spec.name!r}: its DAG, connection or storage folder "
                f"would be the package's own (reserved: {sorted(RESERVED_SOURCE_NAMES)})"
            )
        if spec.name in seen:
            raise RegistryError(
                f"two sources are named {spec.name!r} ({seen[spec.name].title} and {spec.title}); "
                "rename the list or MISP feed spec"
            )
        seen[spec.name] = spec
    return sources


def source_names() -> list[str]:
    """The names of every registered source, sorted."""
    return sorted(spec.name for spec in all_sources())


def get_source(name: str) -> SourceSpec:
    """The spec of source ``name``.

    :raises KeyError: no source has that name.
    """
    known = all_sources()
    for spec in known:
        if spec.name == name:
            return spec
    raise KeyError(f"Unknown ThreatStream source {name!r}; known: {sorted(s.name for s in known)}")


def scoring_policy(overrides: Mapping[str, Any] | None = None) -> ScoringPolicy:
    """The scoring policy: each source's weight and default confidence, then ``[threatstream]
    scoring`` (JSON), then ``overrides`` (e.g. the merge operator's ``scoring``).

    :raises ValueError: malformed or out-of-range settings.
    """
    layers: list[Mapping[str, Any]] = [scoring_defaults(), settings().scoring_overrides(), overrides or {}]
    combined: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            combined[key] = {**combined.get(key, {}), **value} if isinstance(value, Mapping) else value
    return ScoringPolicy.from_mapping(combined)


def scoring_defaults() -> dict[str, Mapping[str, Any]]:
    """Each source's scoring weight and default confidence, in ``ScoringPolicy.from_mapping`` form."""
    sources = all_sources()
    return {
        "source_weights": {spec.name: spec.weight for spec in sources},
        "default_confidence": {spec.name: spec.default_confidence for spec in sources},
    }
