"""The MISP feed client: the manifest, the events new or changed since the bookmark, the state."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
import requests

from threatstream.exceptions import FeedRequestError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.feeds.transport import BodyLimit
from threatstream.sources.misp.bookmark import committed_state
from threatstream.sources.misp.events import EVENT_PAGE, STATE_PAGE
from threatstream.sources.misp.manifest import FetchPlan, plan_fetch, read_manifest

log = logging.getLogger(__name__)


class MispFeedHook(FeedHook):
    """Reads one MISP feed folder; subclasses made by :func:`~threatstream.sources.misp.source.to_source`
    name the folder, the manifest and the bounds."""

    key_required = False
    #: The feed's folder below the connection's base URL (``doc/misp/feed-osint/``).
    endpoint: ClassVar[str] = ""
    manifest: ClassVar[str] = "manifest.json"
    max_manifest_bytes: ClassVar[int] = 32 << 20
    max_event_bytes: ClassVar[int] = 64 << 20
    max_events_per_run: ClassVar[int] = 500

    @staticmethod
    def bookmark() -> Mapping[str, int] | None:
        """The events fetched so far, as the last run whose upsert succeeded left them."""
        return committed_state()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plan: FetchPlan | None = None
        self._manifest_limit = _spec_limit("max_manifest_bytes", self.max_manifest_bytes)
        self._event_limit = _spec_limit("max_event_bytes", self.max_event_bytes)

    def iter_pages(self, window: FetchWindow, **_: Any) -> Iterator[FetchedPage]:
        """Yield each event new or changed since the bookmark (streamed), then the run's state."""
        what = f"{self.hook_name} manifest {self.endpoint}{self.manifest} (connection '{self.http_conn_id}')"
        response = self.get(f"{self.endpoint}{self.manifest}", limit=self._manifest_limit)
        bookmark = type(self).bookmark()
        plan = plan_fetch(read_manifest(response.content, what), bookmark, self.max_events_per_run)
        self._plan = plan
        log.info("%s: %s", what, plan.counts())
        for entry in plan.fetch:
            endpoint = f"{self.endpoint}{entry.uuid}.json"
            event = f"{self.hook_name} event {entry.uuid}"
            try:
                body = self.open_stream(endpoint, limit=self._event_limit)
            except EventMissing as err:
                log.warning(
                    "%s is listed in the manifest but absent (%s); the next run asks again.", event, err
                )
                plan.missed(entry)
                continue
            yield FetchedPage(
                body,
                kind=EVENT_PAGE,
                context=entry.context(),
                reopen=functools.partial(self.open_once, "GET", endpoint, limit=self._event_limit),
            )
        yield FetchedPage(orjson.dumps(plan.state_document()), kind=STATE_PAGE, context=plan.counts())

    def raise_for_status(self, response: requests.Response) -> None:
        """A 404 is :class:`EventMissing` (for an event file: skipped, asked for again next run)."""
        if response.status_code == HTTPStatus.NOT_FOUND:
            raise EventMissing(f"{self.hook_name}: HTTP 404 from connection '{self.http_conn_id}'")
        super().raise_for_status(response)

    def source_metadata(self) -> dict[str, Any]:
        """The run's plan: events listed, new, changed, unchanged, deferred and fetched."""
        return self._plan.counts() if self._plan is not None else {}

    def up_to_date(self) -> bool:
        """The manifest listed no event new or changed since the bookmark (none deferred either)."""
        plan = self._plan
        return plan is not None and not plan.fetch and plan.deferred == 0


class EventMissing(FeedRequestError):
    """The feed answered 404: a manifest that is missing fails the run, an event file is skipped."""


def _spec_limit(setting: str, max_bytes: int) -> BodyLimit:
    """A body bound set by the feed's spec (its error names the spec's setting)."""
    return BodyLimit(max_bytes, setting, f"the feed spec's {setting} (include/feeds/misp/)")
