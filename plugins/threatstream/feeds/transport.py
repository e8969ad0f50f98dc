"""Reading a response body within the feed's limits, and the origin rule for redirects."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import SplitResult

import requests
import urllib3

from threatstream.exceptions import FeedTooLargeError
from threatstream.feeds.retries import RequestDeadlineExceeded
from threatstream.feeds.watchdog import Watchdog
from threatstream.parsing.streams import ChunkReader

#: How much of an error body is read for its detail message.
ERROR_BODY_BYTES = 64 * 1024
_READ_BYTES = 1 << 16


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a response body may have (after decompression), and the setting that says so.

    :param max_bytes: the bound.
    :param setting: the setting's name, as the error names it (``max_body_bytes``).
    :param where: where it is set, for the error's hint.
    """

    max_bytes: int
    setting: str = "max_body_bytes"
    where: str = "the source's limit (connection extra 'max_body_bytes')"

    def exceeded(self, describe: str, size: str) -> FeedTooLargeError:
        """The error for a body of ``size`` (words, e.g. ``"announces 9 bytes"``) over the bound."""
        return FeedTooLargeError(
            f"{describe}: {size}, more than {self.setting}={self.max_bytes}; "
            f"raise {self.where} if the feed really grew."
        )


class FeedBody(ChunkReader):
    """A response body as a bounded binary stream.

    Reads return what the socket has (never waiting for a full buffer), decoded from
    gzip/deflate in bounded steps. Each read checks the request's deadline and the body's
    size, so a slow drip, an endless body or a decompression bomb fails fast with bounded
    memory. Network failures surface as ``requests`` exceptions (transient).
    """

    def __init__(
        self,
        response: requests.Response,
        *,
        limit: BodyLimit,
        deadline: float,
        read_timeout: float,
        describe: str,
        watchdog: Watchdog | None = None,
    ) -> None:
        super().__init__()
        self.response = response
        self._watchdog = watchdog
        self.bytes_read = 0
        self._limit = limit
        self._deadline = deadline
        self._read_timeout = read_timeout
        self._describe = describe
        self._pending = b""

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    def read_chunk(self, size: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self._read1(size)

    def peek_head(self, size: int) -> bytes:
        """Up to ``size`` first bytes of the body, which later reads still return."""
        while len(self._pending) < size:
            data = self._read1(size - len(self._pending))
            if not data:
                break
            self._pending += data
        return self._pending[:size]

    def close(self) -> None:
        self.response.close()
        super().close()

    def _read1(self, size: int) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0 or self._expired():
            raise self._late()
        raw = self.response.raw
        connection = getattr(raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(min(self._read_timeout, remaining))
        try:
            data: bytes = raw.read1(size, decode_content=True)
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as err:
            if self._expired():
                raise self._late() from None
            if isinstance(err, urllib3.exceptions.ReadTimeoutError):
                raise requests.ReadTimeout(f"{self._describe}: {err}") from None
            if isinstance(err, urllib3.exceptions.DecodeError):
                raise requests.exceptions.ContentDecodingError(f"{self._describe}: {err}") from None
            raise requests.exceptions.ChunkedEncodingError(
                f"{self._describe}: connection broken mid-body ({type(err).__name__})"
            ) from None
        self.bytes_read += len(data)
        limit = self._limit.max_bytes
        if self.bytes_read > limit or raw.tell() > limit:
            raise self._limit.exceeded(self._describe, "the body grows past the limit (after decompression)")
        return data

    def _expired(self) -> bool:
        return self._watchdog is not None and self._watchdog.fired

    def _late(self) -> RequestDeadlineExceeded:
        return RequestDeadlineExceeded(f"{self._describe}: body not complete within the request time limit")

    def read_all(self) -> bytes:
        """The rest of the body (bounded by its limit)."""
        parts = [self._pending]
        self._pending = b""
        while data := self._read1(_READ_BYTES):
            parts.append(data)
        return b"".join(parts)


def same_origin(here: SplitResult, there: SplitResult) -> bool:
    """Whether two URLs share scheme, host and port (a missing port is the scheme's default)."""
    return (there.scheme, there.hostname, _port(there.scheme, there.port)) == (
        here.scheme,
        here.hostname,
        _port(here.scheme, here.port),
    )


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme)
