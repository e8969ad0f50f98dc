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

import functools
import socket
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from threatstream.connections import RequiredConnection
from threatstream.exceptions import (
    FeedAuthError,
    FeedQuotaExhausted,
    FeedRedirectError,
    FeedRequestError,
    FeedUnavailableError,
)
from threatstream.feeds.connection import FeedConnectionMixin
from threatstream.feeds.credentials import Credentials
from threatstream.feeds.limits import LIMIT_NAMES, FeedLimits
from threatstream.feeds.options import check_options
from threatstream.feeds.pages import FetchedPage, FetchWindow
from threatstream.feeds.retries import (
    TRANSIENT_ERRORS,
    TRANSIENT_STATUSES,
    RequestDeadlineExceeded,
    TransientResponseError,
    parse_retry_after,
)
from threatstream.feeds.transport import ERROR_BODY_BYTES, BodyLimit, FeedBody, same_origin
from threatstream.feeds.watchdog import Watchdog, collecting_sockets, watch_session_sockets

_T = TypeVar("_T")


class FeedHook(RequiredConnection, FeedConnectionMixin, HttpHook):
    """Read-only client of one threat-intelligence feed.

    :param http_conn_id: Airflow connection (``threatstream_feed``, or ``http``): schema/host/port give the
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
            watch_session_sockets(session)
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

    def get(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, limit: BodyLimit | None = None
    ) -> requests.Response:
        """GET ``endpoint`` (relative to the connection's base URL), fully read and bounded.

        Transient failures (connection errors, timeouts, a body cut short, 408/425/429/5xx)
        are retried with exponential backoff, honouring ``Retry-After``; when attempts run
        out a :class:`FeedUnavailableError` fails the try (Airflow retries the task). Auth
        failures raise :class:`FeedAuthError`, other client errors :class:`FeedRequestError`,
        an off-host redirect :class:`FeedRedirectError` and an oversize body
        :class:`FeedTooLargeError`, all without retry. ``limit`` bounds this body instead of
        ``max_body_bytes`` (a feed's manifest, say, with its own setting).
        """
        return self.with_retries(
            f"GET {endpoint}", self._read_response, "GET", endpoint, params=params, limit=limit
        )

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
        limit: BodyLimit | None = None,
    ) -> FeedBody:
        """Send a request (retrying until its status is good) and return the body as a bounded stream.

        For large single bodies, which are streamed to storage rather than held. The caller
        reads and closes it; failures while reading (a body cut short, the time limit) are
        transient: read again through :meth:`open_once` inside :meth:`with_retries`.
        ``limit`` bounds this body instead of ``max_body_bytes``.
        """
        return self.with_retries(
            f"{method} {endpoint}",
            self.open_once,
            method,
            endpoint,
            params=params,
            json=json,
            data=data,
            limit=limit,
        )

    def open_once(
        self, method: str, endpoint: str, *, limit: BodyLimit | None = None, **request: Any
    ) -> FeedBody:
        """One attempt of :meth:`open_stream`: send, classify the status, return the open body.

        A body announcing more than its limit (``Content-Length``) fails before it is read.
        """
        limit = limit or BodyLimit(self.limits.max_body_bytes)
        response, deadline, watchdog = self._send(method, endpoint, **request)
        describe = f"{self.hook_name}: {method} {endpoint} via connection '{self.http_conn_id}'"
        body = FeedBody(
            response,
            limit=limit,
            deadline=deadline,
            read_timeout=self._timeouts()[1],
            describe=describe,
            watchdog=watchdog,
        )
        if response.status_code >= 300:
            with body:
                response._content = body.peek_head(ERROR_BODY_BYTES)
            self.raise_for_status(response)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit.max_bytes:
            body.close()
            raise limit.exceeded(describe, f"announces {declared} bytes")
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

    def _read_response(
        self, method: str, endpoint: str, *, limit: BodyLimit | None = None, **request: Any
    ) -> requests.Response:
        """One attempt of :meth:`get` / :meth:`post`: send, classify, read the whole bounded body."""
        started = time.monotonic()
        with self.open_once(method, endpoint, limit=limit, **request) as body:
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
    ) -> tuple[requests.Response, float, Watchdog]:
        """Send a request, following redirects only on the connection's own origin.

        Returns the final response (body not yet read), the request's deadline and the
        watchdog that ends the request at that deadline (the body's reader cancels it).
        """
        session = self.session
        limits = self.limits
        deadline = time.monotonic() + limits.max_request_seconds
        watchdog = Watchdog(self._sockets, limits.max_request_seconds)
        connect_timeout, read_timeout = self._timeouts()
        prepared = session.prepare_request(
            requests.Request(method, self.url_from_endpoint(endpoint), params=params, json=json, data=data)
        )
        late = RequestDeadlineExceeded(
            f"{self.hook_name}: {method} {endpoint} not answered within "
            f"max_request_seconds={limits.max_request_seconds:g}"
        )
        try:
            with collecting_sockets(self._sockets):
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
        if not same_origin(here, there):
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
        """``text`` without any form of the connection's credentials (see ``feeds.credentials``)."""
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

    def up_to_date(self) -> bool:
        """Whether the last fetch found, by the feed's own account (an unchanged manifest, ...),
        nothing new since the last committed bookmark, so that no records is no alarm."""
        return False


_IterPages = Callable[..., Iterator[FetchedPage]]


def _checking_options(iter_pages: _IterPages) -> _IterPages:
    @functools.wraps(iter_pages)
    def checked(self: FeedHook, window: FetchWindow, **options: Any) -> Iterator[FetchedPage]:
        return iter_pages(self, window, **check_options(self.option_schema, options, self.hook_name))

    return checked
