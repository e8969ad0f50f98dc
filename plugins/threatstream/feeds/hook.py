"""Base hook for HTTP threat-intelligence feeds, built on the HTTP provider's ``HttpHook``.

The hook owns transport concerns only: base URL and options from the Airflow connection,
the API key sent as the feed's own header (never as HTTP basic auth), timeouts, one
keep-alive session per hook, in-task retries of transient failures and classification of
everything else. Subclasses add the feed's endpoints in :meth:`FeedHook.iter_pages`.

Every response is bounded (see ``docs/feed-limits.md``): redirects are followed only on the
connection's own scheme, host and port (the key never leaves it); a body may not exceed
``max_body_bytes`` after decompression, checked while it streams; a request (redirects,
headers and body) may not take longer than ``max_request_seconds`` in total, however slowly
the server drips; a run may not exceed ``max_pages`` pages and ``max_records`` records.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import io
import math
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException
from typing import Any, ClassVar, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import tenacity
import urllib3
import urllib3.connection
from airflow.providers.http.hooks.http import HttpHook

from threatstream.exceptions import (
    FeedAuthError,
    FeedOptionError,
    FeedQuotaExhausted,
    FeedRedirectError,
    FeedRequestError,
    FeedTooLargeError,
    FeedUnavailableError,
)
from threatstream.feeds.credentials import Credentials
from threatstream.parsing import ByteStream, ChunkReader

#: Status codes worth retrying inside a task try.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MIB = 1 << 20
#: How much of an error body is read for its detail message.
ERROR_BODY_BYTES = 64 * 1024
_READ_BYTES = 1 << 16
_T = TypeVar("_T")


@dataclass(frozen=True)
class FetchWindow:
    """The time window a run asks the feed for (the DAG run's data interval)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class FeedLimits:
    """Bounds on what one feed may cost; see ``docs/feed-limits.md`` for each source's values.

    :param max_body_bytes: largest response body, counted after gzip/deflate decoding.
    :param max_request_seconds: longest wall-clock time of one request, redirects and body included.
    :param max_pages: most pages one run may fetch.
    :param max_records: most records one run may fetch.
    :param max_redirects: most same-host redirects one request may follow.
    """

    max_body_bytes: int = 32 * MIB
    max_request_seconds: float = 300.0
    max_pages: int = 1000
    max_records: int = 1_000_000
    max_redirects: int = 3

    def updated(self, overrides: Mapping[str, Any], where: str) -> FeedLimits:
        """These limits with ``overrides`` applied; a bad value raises :class:`FeedOptionError`."""
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if value is None:
                continue
            integer = name != "max_request_seconds"
            number = _positive_number(value, integer=integer)
            if number is None:
                kind = "a positive integer" if integer else "a positive number"
                raise FeedOptionError(f"{where}: '{name}' must be {kind}, got {value!r}")
            changes[name] = number
        return dataclasses.replace(self, **changes)


#: Names of the limits; a connection extra with one of these names sets it (and is not a header).
LIMIT_NAMES = frozenset(field.name for field in dataclasses.fields(FeedLimits))


def _positive_number(value: Any, *, integer: bool) -> float | int | None:
    """``value`` as a positive finite number (an integer if ``integer``), or None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not (number > 0 and math.isfinite(number)):
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return number


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


#: The sockets of the hook whose request is being sent (set around each send).
_OPEN_SOCKETS: contextvars.ContextVar[weakref.WeakSet[socket.socket] | None] = contextvars.ContextVar(
    "threatstream_feed_sockets", default=None
)


def _register(sock: socket.socket | None) -> None:
    sockets = _OPEN_SOCKETS.get()
    if sockets is not None and sock is not None:
        sockets.add(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _register(self.sock)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _register(self.sock)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _Watchdog:
    """Shuts the hook's sockets down when a request outlives its deadline.

    Per-read timeouts cannot stop a server that drips headers or body a byte at a time;
    this ends the blocked read however the time is being spent.
    """

    def __init__(self, sockets: weakref.WeakSet[socket.socket], seconds: float) -> None:
        self.fired = False
        self._sockets = sockets
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


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
        max_bytes: int,
        deadline: float,
        read_timeout: float,
        describe: str,
        watchdog: _Watchdog | None = None,
    ) -> None:
        super().__init__()
        self.response = response
        self._watchdog = watchdog
        self.bytes_read = 0
        self._max_bytes = max_bytes
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
        if self.bytes_read > self._max_bytes or raw.tell() > self._max_bytes:
            raise FeedTooLargeError(
                f"{self._describe}: body exceeds max_body_bytes={self._max_bytes} (after decompression); "
                "raise the source's limit (connection extra 'max_body_bytes') if the feed really grew."
            )
        return data

    def _expired(self) -> bool:
        return self._watchdog is not None and self._watchdog.fired

    def _late(self) -> RequestDeadlineExceeded:
        return RequestDeadlineExceeded(f"{self._describe}: body not complete within the request time limit")

    def read_all(self) -> bytes:
        """The rest of the body (bounded by ``max_bytes``)."""
        parts = [self._pending]
        self._pending = b""
        while data := self._read1(_READ_BYTES):
            parts.append(data)
        return b"".join(parts)


#: Re-issues the request of a streamed page, for another attempt after a body cut short.
PageReopener = Callable[[], ByteStream]


class FetchedPage:
    """One raw response body plus what the parser needs to read it.

    The body is ``bytes`` (small pages) or a readable binary stream: the open response of a
    large single-body feed, streamed to storage without being held in memory, or a stored
    page being validated. A streamed response page may carry ``reopen``, which requests it
    again when an attempt to read it fails mid-body. Parsers read the body with
    :meth:`open` (incrementally) or :attr:`body` (whole, bounded by ``max_body_bytes``).
    """

    def __init__(
        self,
        body: bytes | ByteStream = b"",
        kind: str = "default",
        context: Mapping[str, Any] | None = None,
        *,
        reopen: PageReopener | None = None,
    ) -> None:
        self._body = body
        self.kind = kind
        self.context: Mapping[str, Any] = context if context is not None else {}
        self._reopen = reopen
        self._opened = False

    def open(self) -> AbstractContextManager[ByteStream]:
        """The body as a binary stream, closed on exit; a streamed body is read once, then reopened."""
        if isinstance(self._body, bytes):
            return io.BytesIO(self._body)
        if not self._opened:
            self._opened = True
            return closing(self._body)
        if self._reopen is None:
            raise RuntimeError("this page's body is a stream that has already been read")
        return closing(self._reopen())

    @property
    def body(self) -> bytes:
        """The whole body; a stream is read on first use."""
        if not isinstance(self._body, bytes):
            with self.open() as stream:
                self._body = stream.read()
        return self._body


class FeedHook(HttpHook):
    """Read-only client of one threat-intelligence feed.

    :param http_conn_id: Airflow connection (conn type ``http``): schema/host/port give the
        API base URL, the password holds the API key, extras may set ``timeout`` and other
        request options, and any of the limits below (which then win over the hook's).
        Defaults to the subclass's ``default_conn_name``.
    :param max_attempts: attempts per request inside one task try, for transient failures.
    :param backoff_initial: first wait between attempts, seconds; doubles up to ``backoff_max``.
    :param backoff_max: longest wait between attempts, seconds.
    :param max_retry_after: longest ``Retry-After`` the hook honours by sleeping; a longer
        one fails the task at once, without retries, with :class:`FeedQuotaExhausted`.
    :param max_body_bytes: see :class:`FeedLimits`; defaults to the subclass's :attr:`default_limits`.
    :param max_request_seconds: see :class:`FeedLimits`.
    :param max_pages: see :class:`FeedLimits`.
    :param max_records: see :class:`FeedLimits`.
    :param max_redirects: see :class:`FeedLimits`.
    """

    conn_type = "http"
    hook_name = "ThreatStream feed"
    #: Header that carries the API key (e.g. ``Auth-Key``); empty for feeds without a key.
    auth_header: ClassVar[str] = ""
    #: Whether a request without a key is pointless (the feed would answer 401/403).
    key_required: ClassVar[bool] = True
    #: (connect, read) timeout used when the connection does not set ``timeout``.
    default_timeout: ClassVar[tuple[float, float]] = (10.0, 120.0)
    #: This feed's bounds, sized from its real maximum response (``docs/feed-limits.md``).
    default_limits: ClassVar[FeedLimits] = FeedLimits()
    #: JSON-schema fragment per fetch option (``type``, ``minimum``, ``maximum``, ``enum``).
    option_schema: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Public hosts whose links may be rebased onto the connection (the feed's own host).
    link_hosts: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        http_conn_id: str | None = None,
        *,
        max_attempts: int = 4,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_after: float = 300.0,
        max_body_bytes: int | None = None,
        max_request_seconds: float | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        max_redirects: int | None = None,
    ) -> None:
        super().__init__(method="GET", http_conn_id=http_conn_id or self.default_conn_name)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.request_count = 0
        self._session: requests.Session | None = None
        self._api_key: str | None = None
        #: Every form of the credentials this hook sends, redacted from every message it builds.
        self.credentials = Credentials()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._limits = self.default_limits.updated(
            {
                "max_body_bytes": max_body_bytes,
                "max_request_seconds": max_request_seconds,
                "max_pages": max_pages,
                "max_records": max_records,
                "max_redirects": max_redirects,
            },
            f"{self.hook_name} hook",
        )

    # -- connection and session --------------------------------------------------------

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        """Send the connection's password as :attr:`auth_header`, never as HTTP basic auth."""
        session.auth = None
        self._api_key = connection.password or None
        if self.auth_header and self._api_key:
            session.headers[self.auth_header] = self._api_key
        return session

    def _configure_session_from_extra(
        self, session: requests.Session, connection: Any, extra_options: dict[str, Any]
    ) -> requests.Session:
        """Take the limits out of the connection extras (they are settings, not headers)."""
        session = super()._configure_session_from_extra(session, connection, extra_options)
        extras = connection.extra_dejson
        overrides = {name: extras[name] for name in LIMIT_NAMES if name in extras}
        for name in overrides:
            session.headers.pop(name, None)
        self._limits = self._limits.updated(overrides, f"Connection '{self.http_conn_id}' extra")
        return session

    @property
    def session(self) -> requests.Session:
        """One keep-alive session per hook, configured from the connection."""
        if self._session is None:
            session = self.get_conn(extra_options={"check_response": False})
            if self.auth_header and self.key_required and self.auth_header not in session.headers:
                raise FeedAuthError(
                    f"Connection '{self.http_conn_id}' has no API key: put the key in the "
                    f"connection's password field (sent as the {self.auth_header} header)."
                )
            self.credentials.add_session(session, self.base_url, self._api_key)
            self.merged_extra.setdefault("timeout", self.default_timeout)
            for adapter in session.adapters.values():
                pools = getattr(adapter, "poolmanager", None)
                if pools is not None:  # let the request watchdog find this session's sockets
                    pools.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
            self._session = session
        return self._session

    @property
    def limits(self) -> FeedLimits:
        """The effective limits: connection extras over hook arguments over the source's defaults."""
        _ = self.session
        return self._limits

    def close(self) -> None:
        """Close the session's pooled connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make every feed's ``iter_pages`` check its options against :attr:`option_schema` first.

        A bad value fails at the call, before any request, with :class:`FeedOptionError`
        (no retries: the same value would fail again).
        """
        super().__init_subclass__(**kwargs)
        pages = cls.__dict__.get("iter_pages")
        if pages is not None:
            cls.iter_pages = _checking_options(pages)  # type: ignore[method-assign]

    # -- requests ----------------------------------------------------------------------

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET ``endpoint`` (relative to the connection's base URL), fully read and bounded.

        Transient failures (connection errors, timeouts, a body cut short, 408/425/429/5xx)
        are retried with exponential backoff, honouring ``Retry-After``; when attempts run
        out a :class:`FeedUnavailableError` fails the try (Airflow retries the task). Auth
        failures raise :class:`FeedAuthError`, other client errors :class:`FeedRequestError`,
        an off-host redirect :class:`FeedRedirectError` and an oversize body
        :class:`FeedTooLargeError`, all without retry.
        """
        return self.with_retries(f"GET {endpoint}", self._read_response, "GET", endpoint, params=params)

    def post(
        self, endpoint: str, *, json: Any = None, data: Mapping[str, Any] | str | bytes | None = None
    ) -> requests.Response:
        """POST a JSON or form body to ``endpoint``; same retries, bounds and errors as :meth:`get`."""
        return self.with_retries(
            f"POST {endpoint}", self._read_response, "POST", endpoint, json=json, data=data
        )

    def open_stream(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        json: Any = None,
        data: Any = None,
    ) -> FeedBody:
        """Send a request (retrying until its status is good) and return the body as a bounded stream.

        For large single bodies, which are streamed to storage rather than held. The caller
        reads and closes it; failures while reading (a body cut short, the time limit) are
        transient: read again through :meth:`open_once` inside :meth:`with_retries`.
        """
        return self.with_retries(
            f"{method} {endpoint}", self.open_once, method, endpoint, params=params, json=json, data=data
        )

    def open_once(self, method: str, endpoint: str, **request: Any) -> FeedBody:
        """One attempt of :meth:`open_stream`: send, classify the status, return the open body."""
        response, deadline, watchdog = self._send(method, endpoint, **request)
        body = FeedBody(
            response,
            max_bytes=self.limits.max_body_bytes,
            deadline=deadline,
            read_timeout=self._timeouts()[1],
            describe=f"{self.hook_name}: {method} {endpoint} via connection '{self.http_conn_id}'",
            watchdog=watchdog,
        )
        if response.status_code >= 300:
            with body:
                response._content = body.peek_head(ERROR_BODY_BYTES)
            self.raise_for_status(response)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            body.close()
            raise FeedTooLargeError(
                f"{self.hook_name}: {method} {endpoint} via connection '{self.http_conn_id}' announces "
                f"{declared} bytes, more than max_body_bytes={self.limits.max_body_bytes}."
            )
        return body

    def with_retries(self, what: str, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run ``func`` with the hook's in-task retry policy for transient failures."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(TRANSIENT_ERRORS),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(func, *args, **kwargs)
        except TRANSIENT_ERRORS as err:
            raise FeedUnavailableError(
                f"{self.hook_name}: {what} via connection '{self.http_conn_id}' failed after "
                f"{self.max_attempts} attempts: {self._redact(str(err))}"
            ) from None

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        self.log.warning(
            "Attempt %d failed (%s: %s); retrying",
            retry_state.attempt_number,
            type(error).__name__,
            self._redact(str(error)),
        )

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = min(self.backoff_max, self.backoff_initial * 2 ** (retry_state.attempt_number - 1))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        retry_after = error.retry_after if isinstance(error, TransientResponseError) else None
        return float(max(backoff, retry_after or 0.0))

    def _read_response(self, method: str, endpoint: str, **request: Any) -> requests.Response:
        """One attempt of :meth:`get` / :meth:`post`: send, classify, read the whole bounded body."""
        started = time.monotonic()
        with self.open_once(method, endpoint, **request) as body:
            content = body.read_all()
        response = body.response
        response._content = content
        self.log.info(
            "-> %s, %d bytes in %.2fs", response.status_code, len(content), time.monotonic() - started
        )
        return response

    def _timeouts(self) -> tuple[float, float]:
        value = self.merged_extra.get("timeout") or self.default_timeout
        if isinstance(value, (list, tuple)):
            return float(value[0]), float(value[1])
        return float(value), float(value)

    def _send(
        self, method: str, endpoint: str, *, params: Any = None, json: Any = None, data: Any = None
    ) -> tuple[requests.Response, float, _Watchdog]:
        """Send a request, following redirects only on the connection's own origin.

        Returns the final response (body not yet read), the request's deadline and the
        watchdog that ends the request at that deadline (the body's reader cancels it).
        """
        session = self.session
        limits = self.limits
        deadline = time.monotonic() + limits.max_request_seconds
        watchdog = _Watchdog(self._sockets, limits.max_request_seconds)
        connect_timeout, read_timeout = self._timeouts()
        prepared = session.prepare_request(
            requests.Request(method, self.url_from_endpoint(endpoint), params=params, json=json, data=data)
        )
        late = RequestDeadlineExceeded(
            f"{self.hook_name}: {method} {endpoint} not answered within "
            f"max_request_seconds={limits.max_request_seconds:g}"
        )
        token = _OPEN_SOCKETS.set(self._sockets)
        try:
            for _ in range(limits.max_redirects + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or watchdog.fired:
                    raise late
                self.log.info("%s %s", prepared.method, prepared.url)
                self.request_count += 1
                settings = session.merge_environment_settings(
                    prepared.url,
                    proxies=session.proxies,
                    stream=True,
                    verify=session.verify,
                    cert=session.cert,
                )
                try:
                    response = session.send(
                        prepared,
                        stream=True,
                        allow_redirects=False,
                        timeout=(min(connect_timeout, remaining), min(read_timeout, remaining)),
                        verify=settings["verify"],
                        proxies=settings["proxies"],
                        cert=settings["cert"],
                    )
                except requests.RequestException:
                    if watchdog.fired:
                        raise late from None
                    raise
                if not response.is_redirect:
                    return response, deadline, watchdog
                response.close()
                prepared = self._redirect_target(prepared, response)
        except BaseException:
            watchdog.cancel()
            raise
        finally:
            _OPEN_SOCKETS.reset(token)
        watchdog.cancel()
        raise FeedRedirectError(
            f"{self.hook_name}: {method} {endpoint} via connection '{self.http_conn_id}' redirected more "
            f"than max_redirects={limits.max_redirects} times."
        )

    def _redirect_target(
        self, prepared: requests.PreparedRequest, response: requests.Response
    ) -> requests.PreparedRequest:
        """The request to send for a redirect; refuses any other scheme, host or port."""
        target = urljoin(prepared.url or "", response.headers["location"])
        here, there = urlsplit(self.base_url), urlsplit(target)
        if (there.scheme, there.hostname, _port(there.scheme, there.port)) != (
            here.scheme,
            here.hostname,
            _port(here.scheme, here.port),
        ):
            raise FeedRedirectError(
                self._redact(
                    f"{self.hook_name}: HTTP {response.status_code} from connection '{self.http_conn_id}' "
                    f"redirects to {there.scheme}://{there.netloc.rpartition('@')[2]}, which is not the "
                    f"connection's {here.scheme}://{here.netloc}. Refused, so the API key is not sent "
                    "elsewhere; point the connection at the feed's real address."
                )
            )
        redirected = prepared.copy()
        redirected.prepare_url(target, None)
        if response.status_code == 303 or (response.status_code in (301, 302) and prepared.method == "POST"):
            redirected.method = "GET"
            redirected.body = None
            for header in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                redirected.headers.pop(header, None)
        return redirected

    def raise_for_status(self, response: requests.Response) -> None:
        """Classify a non-success response into the right exception."""
        status = response.status_code
        if status < 300:
            return
        summary = f"{self.hook_name}: HTTP {status} from connection '{self.http_conn_id}'"
        detail = self._redact(self.error_detail(response))
        if detail:
            summary = f"{summary}: {detail}"
        if self.is_auth_failure(response):
            raise FeedAuthError(f"{summary}. Check the API key in the connection's password field.")
        if status in TRANSIENT_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.max_retry_after:
                raise FeedQuotaExhausted(
                    f"{summary}; Retry-After {retry_after:.0f}s exceeds the {self.max_retry_after:.0f}s "
                    "this task may wait. Failing without retries (they would only spend more quota); "
                    "the next scheduled run fetches again."
                )
            raise TransientResponseError(summary, retry_after)
        raise FeedRequestError(summary)

    def is_auth_failure(self, response: requests.Response) -> bool:
        """Whether the response says the credentials are wrong."""
        return response.status_code in (401, 403)

    def error_detail(self, response: requests.Response) -> str:
        """A short, key-free description of an error body."""
        text = response.text.strip()
        if text.startswith("<"):
            return ""
        return self._redact(text)[:300]  # redacted whole, then cut: no partial credential survives

    def _redact(self, text: str) -> str:
        """``text`` without any form of the connection's credentials (see hooks.credentials)."""
        return self.credentials.redact(text)

    def rebase_link(self, link: str) -> str:
        """Turn a pagination link into an endpoint on the configured connection.

        Feeds return absolute ``next`` links naming their public host; the link's path and
        query are re-applied to the connection's base URL. A link to any other host is
        refused, so a feed can never send the worker (and its API key) elsewhere.
        """
        base = urlsplit(self.url_from_endpoint(""))
        target = urlsplit(urljoin(self.url_from_endpoint(""), link))
        allowed_hosts = {base.hostname, *self.link_hosts}
        if target.hostname not in allowed_hosts or target.scheme not in ("http", "https"):
            raise FeedRedirectError(
                f"{self.hook_name}: refusing pagination link to host '{target.hostname}': only "
                f"{sorted(h for h in allowed_hosts if h)} are allowed for connection '{self.http_conn_id}'."
            )
        return target.path + (f"?{target.query}" if target.query else "")

    # -- the feed ----------------------------------------------------------------------

    def iter_pages(self, window: FetchWindow, **options: Any) -> Iterator[FetchedPage]:
        """Yield the raw response pages for ``window``, one at a time."""
        raise NotImplementedError

    def source_metadata(self) -> dict[str, Any]:
        """Facts about the last fetch worth keeping in the batch metadata (quota left, ...)."""
        return {}


_IterPages = Callable[..., Iterator[FetchedPage]]


def _checking_options(iter_pages: _IterPages) -> _IterPages:
    @functools.wraps(iter_pages)
    def checked(self: FeedHook, window: FetchWindow, **options: Any) -> Iterator[FetchedPage]:
        return iter_pages(self, window, **check_options(self.option_schema, options, self.hook_name))

    return checked


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
}


def check_options(
    schema: Mapping[str, Mapping[str, Any]], options: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """``options`` checked against a per-option JSON-schema fragment, integers from strings coerced.

    Supports ``type`` (``integer``, ``number``, ``string``, ``boolean``, ``null`` or a list of
    them), ``minimum``, ``maximum`` and ``enum``. Options the schema does not name are refused
    when a schema is given. Raises :class:`FeedOptionError` naming the option.
    """
    checked: dict[str, Any] = {}
    for name, value in options.items():
        rules = schema.get(name)
        if rules is None:
            if schema:
                raise FeedOptionError(f"{what}: unknown fetch option '{name}'; known: {sorted(schema)}")
            checked[name] = value
            continue
        checked[name] = _check_option(name, value, rules, what)
    return checked


def _check_option(name: str, value: Any, rules: Mapping[str, Any], what: str) -> Any:
    types = rules.get("type", [])
    allowed = [types] if isinstance(types, str) else list(types)
    if value is None:
        if allowed and "null" not in allowed:
            raise FeedOptionError(f"{what}: fetch option '{name}' may not be null")
        return None
    if "integer" in allowed and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if "integer" in allowed and isinstance(value, float) and value.is_integer():
        value = int(value)
    matches = [t for t in allowed if t != "null" and isinstance(value, _JSON_TYPES[t])]
    if allowed and (not matches or (isinstance(value, bool) and "boolean" not in allowed)):
        raise FeedOptionError(f"{what}: fetch option '{name}' must be {' or '.join(allowed)}, got {value!r}")
    minimum, maximum = rules.get("minimum"), rules.get("maximum")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise FeedOptionError(
            f"{what}: fetch option '{name}' must be between {minimum} and {maximum}, got {value!r}"
        )
    if "enum" in rules and value not in rules["enum"]:
        raise FeedOptionError(f"{what}: fetch option '{name}' must be one of {rules['enum']}, got {value!r}")
    return value
