"""The TAXII 2.1 client: discovery, the collection, and paging through its indicator envelopes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from threatstream.exceptions import FeedFormatError, FeedRequestError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.naming import airflow_name
from threatstream.parsing.json_stream import json_value, load_json_page
from threatstream.parsing.timestamps import SORTABLE, format_utc, parse_timestamp

log = logging.getLogger(__name__)

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
#: How far in the future of this worker's clock a TAXII date header may be (clock skew).
MAX_CLOCK_SKEW = timedelta(minutes=10)
DATE_ADDED_FIRST = "X-TAXII-Date-Added-First"
DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"


class TaxiiHook(FeedHook):
    """TAXII 2.1 client for one collection, on the shared transport (retries, bounds, errors).

    :param http_conn_id: connection with schema/host/port = the TAXII server; login and
        password for Basic auth, or only a password for a Bearer token.
    """

    default_conn_name = airflow_name("taxii")
    hook_name = "TAXII"
    key_required = False
    default_headers = {"Accept": TAXII_MEDIA_TYPE}  # noqa: RUF012 (HttpHook's own attribute)
    option_schema = {  # noqa: RUF012
        "api_root": {
            "title": "API root",
            "type": "string",
            "description": "The TAXII API root's URL or path (empty: the server's default API root).",
        },
        "collection": {
            "title": "Collection",
            "type": "string",
            "description": "The collection id (empty: the API root's only readable collection).",
        },
        "limit": {
            "title": "Objects per page",
            "type": "integer",
            "minimum": 1,
            "maximum": 10_000,
            "description": "Objects per page the server is asked for (it may send fewer).",
        },
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: How the last paging ended, for :meth:`source_metadata`.
        self._paging: dict[str, Any] = {}

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        session.auth = None
        self._api_key = connection.password or None
        if connection.login and self._api_key:
            session.auth = requests.auth.HTTPBasicAuth(connection.login, self._api_key)
        elif self._api_key:
            session.headers["Authorization"] = f"Bearer {self._api_key}"
        return session

    def error_detail(self, response: requests.Response) -> str:
        """TAXII errors are ``{"title", "description", "http_status"}``."""
        try:
            body = response.json()
            text = " - ".join(str(body[k]) for k in ("title", "description") if body.get(k))
        except (ValueError, AttributeError, TypeError):
            text = ""
        return self._redact(text)[:300] if text else super().error_detail(response)

    def _json(self, endpoint: str, what: str, params: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        response = self.get(endpoint, params)
        return load_json_page(response.content, f"TAXII {what}"), response

    def api_root(self, api_root: str = "") -> str:
        """The API root endpoint: the one given, else the discovery's ``default`` (or only) root."""
        if api_root:
            return self.rebase_link(api_root).rstrip("/") + "/"
        discovery, _ = self._json("taxii2/", "server discovery")
        roots = discovery.get("api_roots") if isinstance(discovery, dict) else None
        default = discovery.get("default") if isinstance(discovery, dict) else None
        if not default and isinstance(roots, list) and len(roots) == 1:
            default = roots[0]
        if not isinstance(default, str) or not default:
            raise FeedRequestError(
                f"TAXII server discovery names no default API root; set the api_root param ({roots})"
            )
        return self.rebase_link(default).rstrip("/") + "/"

    def collection(self, api_root: str, collection: str = "") -> str:
        """The collection id: the one given, else the API root's only readable collection."""
        if collection:
            return collection
        listing, _ = self._json(f"{api_root}collections/", "collections")
        entries = listing.get("collections") if isinstance(listing, dict) else None
        readable = [
            c["id"] for c in entries or [] if isinstance(c, dict) and c.get("can_read") and c.get("id")
        ]
        if len(readable) != 1:
            raise FeedRequestError(
                f"TAXII API root {api_root} has {len(readable)} readable collections {readable}; "
                "set the collection param"
            )
        return str(readable[0])

    def iter_pages(
        self,
        window: FetchWindow,
        *,
        api_root: str = "",
        collection: str = "",
        limit: int = 1000,
        **_: Any,
    ) -> Iterator[FetchedPage]:
        """Yield each envelope of indicators added to the collection since the window start.

        :param api_root: API root URL or path; empty: the server discovery's default.
        :param collection: collection id; empty: the API root's only readable collection.
        :param limit: objects per page (servers may return fewer).

        Each page is read for ``more`` and ``next`` only (never decoded whole). Paging stops
        at the window end, fails at once when it does not advance, and at the hook's
        ``max_pages`` limit (a chain that does not end fails).
        """
        if window.start is None:
            raise ValueError("TAXII fetches need the run's data interval start")
        root = self.api_root(api_root)
        collection_id = self.collection(root, collection)
        endpoint = f"{root}collections/{collection_id}/objects/"
        query = {
            "added_after": format_utc(window.start, SORTABLE),
            "limit": int(limit),
            "match[type]": "indicator",
        }
        params: dict[str, Any] = dict(query)
        context = {"api_root": root, "collection": collection_id}
        what = f"TAXII objects of collection {collection_id} at {root} (connection '{self.http_conn_id}')"
        self._paging = {"stopped_at_window_end": False}
        max_pages = self.limits.max_pages
        followed: set[bytes] = set()
        previous_last: datetime | None = None
        for page in range(max_pages):
            response = self.get(endpoint, params)
            content = response.content
            first, last = self._date_added(response, what)
            if window.end is not None and first is not None and first > window.end:
                # Added after this run's interval: a later run fetches it.
                self._paging = {"stopped_at_window_end": True, "date_added_first": first.isoformat()}
                log.info(
                    "%s: page %d was first added at %s, after the window end %s; %s",
                    what,
                    page + 1,
                    first.isoformat(),
                    window.end.isoformat(),
                    "nothing was added in this window" if page == 0 else "left to later runs",
                )
                return
            if last is not None and previous_last is not None and last <= previous_last:
                raise FeedFormatError(
                    f"{what}: {DATE_ADDED_LAST} {last.isoformat()} does not advance past the previous "
                    f"page's {previous_last.isoformat()}: the paging repeats itself"
                )
            previous_last = last if last is not None else previous_last
            more = self._envelope_value(content, "more", what)
            yield FetchedPage(body=content, kind="envelope", context=context)
            if more is None or more is False:
                return
            if more is not True:
                raise FeedFormatError(f"{what}: 'more' is {more!r}, not a boolean")
            token = self._envelope_value(content, "next", what)
            if token is not None and not isinstance(token, (str, int)):
                raise FeedFormatError(f"{what}: 'next' is not a string")
            if token is not None and str(token):
                digest = hashlib.sha256(str(token).encode()).digest()
                if digest in followed:
                    raise FeedFormatError(
                        f"{what}: 'next' {str(token)[:80]!r} was already followed: the paging repeats itself"
                    )
                followed.add(digest)
                params = {**params, "next": str(token)}
            else:
                params = self._added_after_params(query, params, last, what)
        raise FeedFormatError(f"{what}: paging did not end after {max_pages} pages")

    def source_metadata(self) -> dict[str, Any]:
        """Whether paging stopped at a page added after the window (and when that page begins)."""
        return dict(self._paging)

    @staticmethod
    def _envelope_value(content: bytes, key: str, what: str) -> Any:
        """A top-level member of the envelope, read without decoding the page."""
        if not content.lstrip()[:1] == b"{":
            raise FeedFormatError(f"{what}: the envelope is not a JSON object")
        return json_value(content, key, what)

    @staticmethod
    def _date_added(response: requests.Response, what: str) -> tuple[datetime | None, datetime | None]:
        """The page's ``X-TAXII-Date-Added-First`` and ``-Last``, checked: RFC 3339, not in the
        future (beyond :data:`MAX_CLOCK_SKEW`), the first not after the last."""
        latest = datetime.now(UTC) + MAX_CLOCK_SKEW
        moments: list[datetime | None] = []
        for header in (DATE_ADDED_FIRST, DATE_ADDED_LAST):
            value = response.headers.get(header)
            try:
                moment = parse_timestamp(value)
            except (ValueError, OverflowError):
                raise FeedFormatError(
                    f"{what}: header {header} is not an RFC 3339 timestamp: {str(value)[:80]!r}"
                ) from None
            if moment is not None and moment > latest:
                raise FeedFormatError(
                    f"{what}: header {header} {moment.isoformat()} is in the future (this worker's clock "
                    f"says {datetime.now(UTC).isoformat(timespec='seconds')}); the server's clock or "
                    "header is wrong"
                )
            moments.append(moment)
        first, last = moments
        if first is not None and last is not None and last < first:
            raise FeedFormatError(
                f"{what}: header {DATE_ADDED_LAST} {last.isoformat()} is before "
                f"{DATE_ADDED_FIRST} {first.isoformat()}"
            )
        return first, last

    @staticmethod
    def _added_after_params(
        query: Mapping[str, Any], params: Mapping[str, Any], last: datetime | None, what: str
    ) -> dict[str, Any]:
        """The next request without ``next``: ``added_after`` = ``X-TAXII-Date-Added-Last``."""
        if last is None:
            raise FeedFormatError(f"{what}: 'more' is true but there is no 'next' and no {DATE_ADDED_LAST}")
        added_after = format_utc(last, SORTABLE)
        if added_after <= str(params["added_after"]):
            raise FeedFormatError(f"{what}: {DATE_ADDED_LAST} {added_after} does not advance the paging")
        return {**query, "added_after": added_after}
