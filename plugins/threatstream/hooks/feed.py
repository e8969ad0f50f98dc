"""Base hook for HTTP threat-intelligence feeds, built on the HTTP provider's ``HttpHook``.

The hook owns transport concerns only: base URL and options from the Airflow connection,
the API key sent as the feed's own header (never as HTTP basic auth), timeouts, one
keep-alive session per hook, in-task retries of transient failures and classification of
everything else. Subclasses add the feed's endpoints in :meth:`FeedHook.iter_pages`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from threatstream.exceptions import (
    FeedAuthError,
    FeedQuotaExhausted,
    FeedRedirectError,
    FeedRequestError,
    FeedUnavailableError,
)

#: Status codes worth retrying inside a task try.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchWindow:
    """The time window a run asks the feed for (the DAG run's data interval)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class FetchedPage:
    """One raw response body, exactly as received, plus what the parser needs to read it."""

    body: bytes
    kind: str = "default"
    context: Mapping[str, Any] = field(default_factory=dict)


class TransientResponseError(Exception):
    """A response with a retryable status; carries the server's ``Retry-After`` if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only); None when absent or odd."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class FeedHook(HttpHook):
    """Read-only client of one threat-intelligence feed.

    :param http_conn_id: Airflow connection (conn type ``http``): schema/host/port give the
        API base URL, the password holds the API key, extras may set ``timeout`` and other
        request options. Defaults to the subclass's ``default_conn_name``.
    :param max_attempts: attempts per request inside one task try, for transient failures.
    :param backoff_initial: first wait between attempts, seconds; doubles up to ``backoff_max``.
    :param backoff_max: longest wait between attempts, seconds.
    :param max_retry_after: longest ``Retry-After`` the hook honours by sleeping; a longer
        one fails the task at once, without retries, with :class:`FeedQuotaExhausted`.
    """

    conn_type = "http"
    hook_name = "ThreatStream feed"
    #: Header that carries the API key (e.g. ``Auth-Key``); empty for feeds without a key.
    auth_header: ClassVar[str] = ""
    #: Whether a request without a key is pointless (the feed would answer 401/403).
    key_required: ClassVar[bool] = True
    #: (connect, read) timeout used when the connection does not set ``timeout``.
    default_timeout: ClassVar[tuple[float, float]] = (10.0, 120.0)

    def __init__(
        self,
        http_conn_id: str | None = None,
        *,
        max_attempts: int = 4,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_after: float = 300.0,
    ) -> None:
        super().__init__(method="GET", http_conn_id=http_conn_id or self.default_conn_name)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.request_count = 0
        self._session: requests.Session | None = None
        self._api_key: str | None = None

    # -- connection and session --------------------------------------------------------

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        """Send the connection's password as :attr:`auth_header`, never as HTTP basic auth."""
        session.auth = None
        self._api_key = connection.password or None
        if self.auth_header and self._api_key:
            session.headers[self.auth_header] = self._api_key
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
            self.merged_extra.setdefault("timeout", self.default_timeout)
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the session's pooled connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- requests ----------------------------------------------------------------------

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET ``endpoint`` (relative to the connection's base URL) with in-task retries.

        Transient failures (connection errors, timeouts, 408/425/429/5xx) are retried with
        exponential backoff, honouring ``Retry-After``; when attempts run out a
        :class:`FeedUnavailableError` fails the try (Airflow retries the task). Auth failures
        raise :class:`FeedAuthError` and other client errors :class:`FeedRequestError`,
        both without retry.
        """
        return self._request("GET", endpoint, params=params)

    def post(
        self, endpoint: str, *, json: Any = None, data: Mapping[str, Any] | None = None
    ) -> requests.Response:
        """POST a JSON (``json``) or form (``data``) body; retries and errors as for :meth:`get`.

        For query APIs that read (abuse.ch ``get_iocs``, ``get_recent``): retrying them is safe.
        """
        return self._request("POST", endpoint, json=json, data=data)

    def _request(self, method: str, endpoint: str, **request: Any) -> requests.Response:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(
                (TransientResponseError, requests.ConnectionError, requests.Timeout)
            ),
            reraise=True,
        )
        try:
            return retrying(self._request_once, method, endpoint, request)
        except (TransientResponseError, requests.ConnectionError, requests.Timeout) as err:
            raise FeedUnavailableError(
                f"{self.hook_name}: {method} {endpoint} via connection '{self.http_conn_id}' failed after "
                f"{self.max_attempts} attempts: {self._redact(str(err))}"
            ) from None

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = min(self.backoff_max, self.backoff_initial * 2 ** (retry_state.attempt_number - 1))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        retry_after = error.retry_after if isinstance(error, TransientResponseError) else None
        return float(max(backoff, retry_after or 0.0))

    def _request_once(self, method: str, endpoint: str, request: Mapping[str, Any]) -> requests.Response:
        session = self.session
        url = self.url_from_endpoint(endpoint)
        prepared = session.prepare_request(requests.Request(method, url, **request))
        self.log.info("%s %s", method, prepared.url)
        self.request_count += 1
        started = time.monotonic()
        response: requests.Response = self.run_and_check(session, prepared, self.merged_extra)
        self.log.info(
            "-> %s, %d bytes in %.2fs",
            response.status_code,
            len(response.content),
            time.monotonic() - started,
        )
        self.raise_for_status(response)
        return response

    def raise_for_status(self, response: requests.Response) -> None:
        """Classify a non-success response into the right exception."""
        status = response.status_code
        if status < 400:
            return
        summary = f"{self.hook_name}: HTTP {status} from connection '{self.http_conn_id}'"
        detail = self.error_detail(response)
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
        return self._redact(text[:300])

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

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

    #: Public hosts whose links may be rebased onto the connection (the feed's own host).
    link_hosts: ClassVar[frozenset[str]] = frozenset()

    # -- the feed ----------------------------------------------------------------------

    def iter_pages(self, window: FetchWindow, **options: Any) -> Iterator[FetchedPage]:
        """Yield the raw response pages for ``window``, one at a time."""
        raise NotImplementedError

    def source_metadata(self) -> dict[str, Any]:
        """Facts about the last fetch worth keeping in the batch metadata (quota left, ...)."""
        return {}
