"""AbuseIPDB: the blacklist of the most reported IPv4 and IPv6 addresses.

The blacklist is a snapshot with no delta and no history: each run stores the current
list, and an address that drops off is simply no longer refreshed and expires through its
(short) TTL. Backfilling past dates cannot recover past lists, so backfill runs skip.
Free plans allow 5 blacklist calls a day and always get the confidence-100 list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import requests

from threatstream.canonical.errors import InvalidIndicator
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.limits import MIB, FeedLimits
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.feeds.transport import FeedBody
from threatstream.naming import airflow_name
from threatstream.parsing.json_stream import first_json_value, iter_json_array
from threatstream.parsing.timestamps import parse_timestamp
from threatstream.records.indicators import Observation, new_observation
from threatstream.sources.base import SourceSpec

BLACKLIST = "api/v2/blacklist"
KEPT_FIELDS = ("countryCode", "abuseConfidenceScore", "lastReportedAt")
#: How much of the body's start is read for ``meta.generatedAt`` (it precedes the rows).
HEAD_BYTES = 4096
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "rate_limit_limit",
    "X-RateLimit-Remaining": "rate_limit_remaining",
    "X-RateLimit-Reset": "rate_limit_reset",
}


class AbuseIPDBHook(FeedHook):
    """AbuseIPDB APIv2 client; the API key is the connection's password.

    The blacklist is one body of up to 500,000 rows (Premium; about 62 MB): it is streamed
    to storage, never held in memory.

    :param http_conn_id: connection with schema/host/port = ``https://api.abuseipdb.com``.
    """

    default_conn_name = airflow_name("abuseipdb")
    hook_name = "AbuseIPDB"
    auth_header = "Key"
    default_headers = {"Accept": "application/json"}  # noqa: RUF012 (HttpHook's own attribute)
    #: About 125 bytes a row: 1M rows (twice the Premium cap) are about 125 MB.
    default_limits = FeedLimits(
        max_body_bytes=256 * MIB, max_request_seconds=900, max_pages=1, max_records=2_000_000
    )
    option_schema = {  # noqa: RUF012
        "confidence_minimum": {
            "title": "Minimum confidence",
            "type": "integer",
            "minimum": 25,
            "maximum": 100,
            "description": "Lowest abuse confidence score.",
        },
        "limit": {
            "title": "Most addresses",
            "type": "integer",
            "minimum": 1,
            "maximum": 1_000_000,
            "description": "Most rows (plans cap it: free 10,000, premium 500,000).",
        },
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metadata: dict[str, Any] = {}

    def error_detail(self, response: requests.Response) -> str:
        """AbuseIPDB errors follow JSON:API: ``{"errors": [{"detail": ...}]}``."""
        try:
            errors = response.json().get("errors")
            details = [
                str(error["detail"]) for error in errors if isinstance(error, dict) and "detail" in error
            ]
        except (ValueError, AttributeError, TypeError):
            details = []
        return self._redact("; ".join(details)) if details else super().error_detail(response)

    def iter_pages(
        self, window: FetchWindow, *, confidence_minimum: int = 75, limit: int = 10_000, **_: Any
    ) -> Iterator[FetchedPage]:
        """Yield the blacklist (one page: the endpoint has no paging) as a stream.

        :param confidence_minimum: 25-100; below 100 is a subscriber feature.
        :param limit: maximum rows; plans cap it (free 10,000).
        """
        params = {"confidenceMinimum": int(confidence_minimum), "limit": int(limit)}
        context: dict[str, Any] = {}
        body = self.with_retries(f"GET {BLACKLIST}", self._open_blacklist, params, context)
        yield FetchedPage(body, context=context, reopen=lambda: self._open_blacklist(params, context))

    def _open_blacklist(self, params: Mapping[str, Any], context: dict[str, Any]) -> FeedBody:
        """One request for the list; records the quota headers and ``generatedAt`` (from its first bytes)."""
        body = self.open_once("GET", BLACKLIST, params=params)
        context["generated_at"] = first_json_value(body.peek_head(HEAD_BYTES), "meta.generatedAt")
        self._metadata = {
            "generated_at": context["generated_at"],
            **{
                key: body.headers[header]
                for header, key in RATE_LIMIT_HEADERS.items()
                if header in body.headers
            },
        }
        self.log.info(
            "AbuseIPDB blacklist quota remaining: %s", self._metadata.get("rate_limit_remaining", "unknown")
        )
        return body

    def source_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)


def split_records(page: FetchedPage) -> Iterator[Mapping[str, Any]]:
    """The rows of a JSON blacklist response, streamed one at a time (memory stays flat)."""
    with page.open() as stream:
        yield from iter_json_array(stream, "data", "AbuseIPDB blacklist")


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One blacklist row -> one IPv4 or IPv6 observation, typed by the address's real version.

    The type is read off the text (a colon means IPv6); canonicalisation parses the address
    once, rejects what is not one and types an IPv4-mapped IPv6 address as IPv4.
    """
    address = record.get("ipAddress")
    if not isinstance(address, str) or not address.strip():
        raise InvalidIndicator("empty", "row has no ipAddress")
    metadata = {key: record.get(key) for key in KEPT_FIELDS}
    metadata["generatedAt"] = context.get("generated_at")
    return new_observation(
        {
            "indicator_type": IndicatorType.IPV6 if ":" in address else IndicatorType.IPV4,
            "value": address,
            "confidence": record.get("abuseConfidenceScore"),
            "last_seen": parse_timestamp(record.get("lastReportedAt")),
            "raw_metadata": metadata,
        }
    )


ABUSEIPDB = SourceSpec(
    name="abuseipdb",
    title="AbuseIPDB",
    hook_class=AbuseIPDBHook,
    split_records=split_records,
    parse_record=parse_record,
    schedule="0 */6 * * *",
    default_ttl=timedelta(days=7),
    fetch_options={"confidence_minimum": 75, "limit": 10_000},
    hook_params={"max_retry_after": 300},
    description=__doc__ or "",
    weight=0.8,
    default_confidence=75,
)
