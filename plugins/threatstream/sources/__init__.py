"""Sources: one module per feed, the declarative list feeds, and the one registry of both.

Adding a feed: a module with a hook, ``split_records``, ``parse_record`` and a
:class:`SourceSpec`, listed in :data:`~threatstream.sources.registry.BUILT_IN_SOURCES`; or a
list spec file in ``include/feeds/lists`` (no code).
"""

from __future__ import annotations

from threatstream.sources.base import SourceSpec
from threatstream.sources.registry import (
    all_sources,
    get_source,
    scoring_defaults,
    scoring_policy,
    source_names,
)

__all__ = ["SourceSpec", "all_sources", "get_source", "scoring_defaults", "scoring_policy", "source_names"]
