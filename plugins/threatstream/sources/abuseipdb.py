"""AbuseIPDB: the blacklist of the most reported IPv4 and IPv6 addresses.

The blacklist is a snapshot with no delta and no history: each run stores the current
list, and an address that drops off is simply no longer refreshed and expires through its
(short) TTL. Backfilling past dates cannot recover past lists, so backfill runs skip.
Free plans allow 5 blacklist calls a day and always get the confidence-100 list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import requests

from threatstream.canonical import InvalidIndicator, ip_indicator_type
from threatstream.exceptions import FeedFormatError
from threatstream.hooks.feed import FeedHook, FetchedPage, FetchWindow
from threatstream.models import Observation
from threatstream.parsing import load_json_page, parse_timestamp
from threatstream.sources.base import SourceSpec

BLACKLIST = "api/v2/blacklist"
KEPT_FIELDS = ("countryCode", "abuseConfidenceScore", "lastReportedAt")
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "rate_limit_limit",
    "X-RateLimit-Remaining": "rate_limit_remaining",
    "X-RateLimit-Reset": "rate_limit_reset",
}


class AbuseIPDBHook(FeedHook):
    """AbuseIPDB APIv2 client; the API key is the connection's password.

    :param http_conn_id: connection with schema/host/port = ``https://api.abuseipdb.com``.
    """

    default_conn_name = "threatstream_abuseipdb"
    hook_name = "AbuseIPDB"
    auth_header = "Key"
    default_headers = {"Accept": "application/json"}  # noqa: RUF012 (HttpHook's own attribute)

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
        """Yield the blacklist (one page: the endpoint has no paging).

        :param confidence_minimum: 25-100; below 100 is a subscriber feature.
        :param limit: maximum rows; plans cap it (free 10,000).
        """
        if not 25 <= int(confidence_minimum) <= 100:
            raise ValueError(f"AbuseIPDB confidence_minimum must be 25-100, got {confidence_minimum}")
        response = self.get(BLACKLIST, {"confidenceMinimum": int(confidence_minimum), "limit": int(limit)})
        body = load_json_page(response.content, "AbuseIPDB blacklist")
        meta = body.get("meta") if isinstance(body, dict) else None
        self._metadata = {
            "generated_at": meta.get("generatedAt") if isinstance(meta, dict) else None,
            **{
                key: response.headers[header]
                for header, key in RATE_LIMIT_HEADERS.items()
                if header in response.headers
            },
        }
        self.log.info(
            "AbuseIPDB blacklist quota remaining: %s", self._metadata.get("rate_limit_remaining", "unknown")
        )
        yield FetchedPage(body=response.content, context={"generated_at": self._metadata["generated_at"]})

    def source_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)


def split_records(page: FetchedPage) -> Sequence[Mapping[str, Any]]:
    """The rows of a JSON blacklist response."""
    body = load_json_page(page.body, "AbuseIPDB blacklist")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise FeedFormatError("AbuseIPDB blacklist: expected a 'data' list")
    return data


def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
    """One blacklist row -> one IPv4 or IPv6 observation, typed by the address's real version."""
    address = record.get("ipAddress")
    if not isinstance(address, str) or not address.strip():
        raise InvalidIndicator("empty", "row has no ipAddress")
    metadata = {key: record.get(key) for key in KEPT_FIELDS}
    metadata["generatedAt"] = context.get("generated_at")
    return Observation(
        indicator_type=ip_indicator_type(address.strip()),
        value=address,
        confidence=record.get("abuseConfidenceScore"),
        last_seen=parse_timestamp(record.get("lastReportedAt")),
        raw_metadata=metadata,
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
    option_schemas={
        "confidence_minimum": {
            "minimum": 25,
            "maximum": 100,
            "description": "Lowest abuse confidence score.",
        },
        "limit": {"minimum": 1, "maximum": 500_000, "description": "Most rows (plans cap it: free 10,000)."},
    },
    hook_params={"max_retry_after": 300},
    description=__doc__ or "",
)
