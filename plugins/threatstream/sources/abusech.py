"""What the abuse.ch APIs (ThreatFox, MalwareBazaar, URLhaus, Feodo Tracker downloads) have in common.

Every ``*-api.abuse.ch`` API needs the free ``Auth-Key`` header (https://auth.abuse.ch) and
wraps its answer in ``{"query_status": ..., "data": ...}`` (URLhaus: ``urls``): ``ok`` with a list,
``no_result``/``no_results`` when nothing matched (``data`` is then a message string), and
``unknown_auth_key``/``auth_key_required`` (HTTP 401/403) when the key is wrong or missing.
The bulk download files (Feodo Tracker) need no key, but one is sent when configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from threatstream.exceptions import FeedAuthError, FeedFormatError, FeedRequestError
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.pages import FetchedPage
from threatstream.parsing.json_stream import load_json_page

AUTH_FAILURE_STATUSES = frozenset({"unknown_auth_key", "auth_key_required"})
NO_RESULT_STATUSES = frozenset({"no_result", "no_results"})


def query_status(body: Any) -> str | None:
    """The ``query_status`` of an abuse.ch API answer, if it has one."""
    status = body.get("query_status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else None


class AbuseChHook(FeedHook):
    """An abuse.ch API client; the Auth-Key is the connection's password."""

    auth_header = "Auth-Key"

    def is_auth_failure(self, response: requests.Response) -> bool:
        if response.status_code in (401, 403):
            return True
        try:
            return query_status(response.json()) in AUTH_FAILURE_STATUSES
        except ValueError:
            return False

    def check_auth_status(self, status: object) -> None:
        """:raises FeedAuthError: ``status`` (a ``query_status``) says the key was refused."""
        if isinstance(status, str) and status in AUTH_FAILURE_STATUSES:
            raise FeedAuthError(
                f"{self.hook_name}: query_status '{status}' from connection '{self.http_conn_id}'. "
                f"Check the Auth-Key in the connection's password field."
            )

    def query(self, what: str, *, json: Any = None, data: Mapping[str, Any] | None = None) -> FetchedPage:
        """POST one query to the API root (``api/v1/``) and check its ``query_status``.

        :raises FeedAuthError: the key was refused (even with HTTP 200).
        :raises FeedRequestError: any other status but ``ok`` and no-result (e.g. a bad
            parameter): retrying the same query cannot help.
        """
        response = self.post("api/v1/", json=json, data=data)
        status = query_status(load_json_page(response.content, what))
        self.check_auth_status(status)
        if status != "ok" and status not in NO_RESULT_STATUSES:
            raise FeedRequestError(f"{self.hook_name}: {what} answered query_status {status!r}")
        return FetchedPage(body=response.content)


def data_records(page: FetchedPage, what: str) -> Sequence[Mapping[str, Any]]:
    """The ``data`` list of an abuse.ch API answer; a no-result answer is an empty page."""
    body = load_json_page(page.body, what)
    status = query_status(body)
    if status in NO_RESULT_STATUSES:
        return []
    data = body.get("data") if isinstance(body, dict) else None
    if status != "ok" or not isinstance(data, list):
        raise FeedFormatError(f"{what}: unexpected response (query_status={status!r}, no 'data' list)")
    return data
