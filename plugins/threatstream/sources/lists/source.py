"""A list spec as a source: its hook (one streamed download) and its :class:`SourceSpec`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from threatstream.feeds.hook import FeedHook
from threatstream.feeds.limits import FeedLimits
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.records.indicators import Observation
from threatstream.sources.base import SourceSpec
from threatstream.sources.declarative import hook_subclass, source_spec
from threatstream.sources.lists.parse import parse_list_record
from threatstream.sources.lists.reader import split_list
from threatstream.sources.lists.spec import ListSpec, load_list_specs


class ListFeedHook(FeedHook):
    """Downloads one list; subclasses made by :func:`to_source` name the spec's endpoint."""

    endpoint = ""

    def iter_pages(self, window: FetchWindow, **_: Any) -> Iterator[FetchedPage]:
        """Yield the list (one page), streamed to storage rather than held in memory."""
        body = self.open_stream(self.endpoint)
        yield FetchedPage(body, reopen=lambda: self.open_once("GET", self.endpoint))


def to_source(spec: ListSpec, spec_file: Path | None = None) -> SourceSpec:
    """The :class:`SourceSpec` of a list spec: a hook subclass plus the spec-bound parsers."""
    hook_class = hook_subclass(
        spec,
        ListFeedHook,
        "ListHook",
        {
            "endpoint": spec.endpoint,
            "default_limits": FeedLimits(max_body_bytes=spec.max_body_bytes, max_pages=1),
        },
    )

    def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
        return split_list(spec, page)

    def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
        return parse_list_record(spec, record)

    origin = (
        f"A declarative {spec.format} list from `{spec.base_url.rstrip('/')}/"
        f"{spec.endpoint.lstrip('/')}` (spec `{spec.name}.json`)."
    )
    return source_spec(spec, hook_class, split_records, parse_record, origin, spec_file=spec_file)


def list_sources(directory: Path | None = None) -> list[SourceSpec]:
    """The source spec of every list spec in ``directory`` (default: the specs folder), sorted
    by name (the registry, which lists them with the built-in sources, refuses a name taken twice).

    :raises ListSpecError: a spec is invalid.
    """
    return [to_source(spec, path) for path, spec in load_list_specs(directory).items()]
