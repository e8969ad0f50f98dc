"""A MISP feed spec as a source: its hook subclass and its :class:`SourceSpec`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from threatstream.feeds.limits import FeedLimits
from threatstream.feeds.pages import FetchedPage
from threatstream.records.indicators import Observation
from threatstream.sources.base import SourceSpec
from threatstream.sources.declarative import hook_subclass, source_spec
from threatstream.sources.misp.events import split_event
from threatstream.sources.misp.hook import MispFeedHook
from threatstream.sources.misp.mapping import parse_attribute
from threatstream.sources.misp.spec import MispFeedSpec, load_misp_specs


def to_source(spec: MispFeedSpec) -> SourceSpec:
    """The :class:`SourceSpec` of a MISP feed spec: a hook subclass plus the spec-bound parsers
    (its DAG is built by ``dags/threatstream_misp.py``, not with the list specs')."""
    hook_class = hook_subclass(
        spec,
        MispFeedHook,
        "MispHook",
        {
            "endpoint": spec.endpoint,
            "manifest": spec.manifest,
            "max_manifest_bytes": spec.max_manifest_bytes,
            "max_event_bytes": spec.max_event_bytes,
            "max_events_per_run": spec.max_events_per_run,
            # Each request carries its own body limit (the manifest's, an event's).
            "default_limits": FeedLimits(max_pages=spec.max_events_per_run + 1),
        },
    )
    rules = spec.rules

    def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
        return split_event(page, rules)

    def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
        return parse_attribute(record, context, rules)

    origin = (
        f"A MISP feed from `{spec.base_url.rstrip('/')}/{spec.endpoint}{spec.manifest}` "
        f"(spec `{spec.name}.json`): each run fetches the events new or changed since the last "
        "run whose upsert succeeded."
    )
    return source_spec(spec, hook_class, split_records, parse_record, origin)


def misp_sources(directory: Path | None = None) -> list[SourceSpec]:
    """The source spec of every MISP feed spec in ``directory`` (default: the specs folder), by name.

    :raises MispSpecError: a spec is invalid.
    """
    return [to_source(spec) for spec in load_misp_specs(directory).values()]


def is_misp_source(spec: SourceSpec) -> bool:
    """Whether ``spec`` is a MISP feed's (its DAG comes from ``dags/threatstream_misp.py``)."""
    return issubclass(spec.hook_class, MispFeedHook)
