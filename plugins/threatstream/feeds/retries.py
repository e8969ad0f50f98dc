"""Which feed failures are worth another attempt inside a task try."""

from __future__ import annotations

import requests

#: Status codes worth retrying inside a task try.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class TransientResponseError(Exception):
    """A response with a retryable status; carries the server's ``Retry-After`` if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestDeadlineExceeded(requests.Timeout):
    """A request ran past ``max_request_seconds`` (transient: the try retries it)."""


#: Failures worth another attempt: the network, the server's load, a body cut short.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientResponseError,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only); None when absent or odd."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
