"""URLhaus (abuse.ch): recently added malware URLs from ``/v1/urls/recent/``.

The endpoint has no cursor and no time filter: it returns the URLs added during the past
few days, at most 1000. Poll often enough that fewer than 1000 URLs arrive between polls
(abuse.ch asks for no more than one request every 5 minutes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.exceptions import FeedFormatError
from threatstream.feeds.limits import MIB, FeedLimits
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.naming import airflow_name
from threatstream.parsing.json_stream import first_json_value, iter_json_array, json_value
from threatstream.parsing.streams import read_head
from threatstream.parsing.string_lists import string_list
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.abusech import AbuseChHook
from threatstream.sources.base import SourceSpec

#: Record fields kept in ``raw_metadata``.
KEPT_FIELDS = ("id", "url_status", "threat", "urlhaus_reference", "reporter", "date_added", "host", "larted")
MAX_LIMIT = 1000
#: Largest single URL record (real ones are under 2 KiB): a larger one within this bound reaches
#: validate and fails alone there (trimmed or quarantined ``too_large``), a page with a larger
#: one is refused.
MAX_RECORD = 4 * 1024 * 1024


class URLhausHook(AbuseChHook):
    """URLhaus API client; the abuse.ch Auth-Key is the connection's password.

    :param http_conn_id: connection with schema/host/port = ``https://urlhaus-api.abuse.ch``.
    """

    default_conn_name = airflow_name("urlhaus")
    hook_name = "URLhaus"
    #: One page of at most 1000 URLs (about 0.5 kB each, so about 0.5 MB).
    default_limits = FeedLimits(
        max_body_bytes=8 * MIB, max_request_seconds=120, max_pages=1, max_records=5000
    )
    option_schema = {  # noqa: RUF012
        "limit": {
            "title": "Most URLs",
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "description": "Newest N URLs (empty: 1000).",
        }
    }

    def iter_pages(self, window: FetchWindow, *, limit: int | None = None, **_: Any) -> Iterator[FetchedPage]:
        """Yield the single page of recent URLs (``limit`` of them, 1-1000, if given)."""
        endpoint = f"v1/urls/recent/limit/{int(limit)}/" if limit else "v1/urls/recent/"
        response = self.get(endpoint)
        self.check_auth_status(json_value(response.content, "query_status", "URLhaus urls/recent"))
        yield FetchedPage(body=response.content)


def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """The URL records of a ``urls/recent`` page, streamed; ``no_results`` is an empty page."""
    with page.open() as stream:
        head, whole = read_head(stream)
        status = first_json_value(head, "query_status")
        if status == "no_results":
            return
        if status != "ok":
            raise FeedFormatError(f"URLhaus: unexpected response (query_status={status!r}, no 'urls' list)")
        yield from iter_json_array(whole, "urls", "URLhaus urls/recent", max_record_bytes=MAX_RECORD)


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One URLhaus URL record -> one URL observation."""
    url = record.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidIndicator("empty", "record has no url")
    return new_observation(
        {
            "indicator_type": IndicatorType.URL,
            "value": url,
            "tags": string_list(record.get("tags")),
            "tlp": TLP.CLEAR,
            "first_seen": parse_timestamp(record.get("date_added")),
            "raw_metadata": {key: record.get(key) for key in KEPT_FIELDS if key in record},
        }
    )


URLHAUS = SourceSpec(
    name="urlhaus",
    title="URLhaus",
    hook_class=URLhausHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="*/15 * * * *",
    default_ttl=timedelta(days=90),
    fetch_options={"limit": None},
    description=__doc__ or "",
    weight=0.9,
    default_confidence=80,
)
