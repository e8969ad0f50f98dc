"""Hostile feeds against the real hooks and DAGs: each case checks the task path, that no key
left the connection's host, and (where it matters) that memory stayed bounded.

The feed side of the fault suite: a real HTTP server on 127.0.0.1
(:mod:`threatstream_dev.hostile_feed`) misbehaves at the socket level; each test records
its row for ``docs/reliability.md`` with ``fault_case``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.exceptions import (
    FeedFormatError,
    FeedLimitExceeded,
    FeedOptionError,
    FeedRedirectError,
    FeedTooLargeError,
    FeedUnavailableError,
)
from threatstream.feeds.hook import FeedHook
from threatstream.feeds.pages import FetchWindow
from threatstream.sources import get_source
from threatstream.sources.abuseipdb import AbuseIPDBHook
from threatstream.sources.abuseipdb import split_records as abuseipdb_records
from threatstream.sources.otx import OTXHook
from threatstream.sources.urlhaus import URLhausHook
from threatstream_dev.feed_replay import TEST_KEYS
from threatstream_dev.hostile_feed import (
    HostileFeedServer,
    deflate_bomb,
    drip,
    drip_headers,
    endless,
    gzip_bomb,
    huge_integer,
    json_body,
    nested_json,
    raw_body,
    redirect,
    reset_mid_body,
    stall,
    status,
    truncated,
)
from threatstream_dev.memory import python_peak
from threatstream_dev.runs import RunDag, RunOutcome, StoredDocuments, run_dag_file

pytestmark = pytest.mark.replay

#: The ``fault_case`` fixture of ``tests/faults/conftest.py``.
FaultCase = Callable[[str, str, str], None]

URLHAUS = "/v1/urls/recent/"
OTX = "/api/v1/pulses/subscribed"
ABUSEIPDB = "/api/v2/blacklist"
PATHS = {"urlhaus": URLHAUS, "otx": OTX, "abuseipdb": ABUSEIPDB}
HOOKS: dict[str, type[FeedHook]] = {"urlhaus": URLhausHook, "otx": OTXHook, "abuseipdb": AbuseIPDBHook}
WINDOW = FetchWindow(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC))
LOGICAL_DATE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MIB = 1 << 20
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"

_URL = {"url_status": "online", "threat": "malware_download", "date_added": "2026-11-28 09:12:44 UTC"}
URLS_OK = {
    "query_status": "ok",
    "urls": [
        {**_URL, "id": 1, "url": "http://59.40.83.17:42989/i", "tags": ["exe"]},
        {**_URL, "id": 2, "url": "http://182.126.120.150:58801/bin.sh", "tags": None},
    ],
}
PULSES_OK = {"count": 0, "next": None, "previous": None, "results": []}
BLACKLIST_OK = {
    "meta": {"generatedAt": "2026-11-28T12:00:00+00:00"},
    "data": [
        {"ipAddress": "8.8.4.4", "countryCode": "US", "abuseConfidenceScore": 100,
         "lastReportedAt": "2026-11-28T08:14:00+00:00"},
        {"ipAddress": "2001:4860:4860::8844", "countryCode": None, "abuseConfidenceScore": 100,
         "lastReportedAt": "2026-11-28T07:42:11+00:00"},
    ],
}  # fmt: skip
GOOD = {"urlhaus": URLS_OK, "otx": PULSES_OK, "abuseipdb": BLACKLIST_OK}


@pytest.fixture(scope="module")
def other_server() -> Iterator[HostileFeedServer]:
    """A second server: 'another host' that must never see a key."""
    with HostileFeedServer() as server:
        yield server


@pytest.fixture
def hostile(
    hostile_server: HostileFeedServer, other_server: HostileFeedServer
) -> Iterator[HostileFeedServer]:
    hostile_server.reset()
    other_server.reset()
    other_server.route("/steal", json_body(GOOD["urlhaus"]))
    yield hostile_server
    hostile_server.reset()
    other_server.reset()


def _connect(monkeypatch: pytest.MonkeyPatch, server: HostileFeedServer, source: str, **extra: Any) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_THREATSTREAM_{source.upper()}", server.connection_json(source, extra=extra)
    )


def _hook(source: str, **kwargs: Any) -> FeedHook:
    return HOOKS[source](max_attempts=3, backoff_initial=0.01, **kwargs)


def _fetch_all(hook: FeedHook, **options: Any) -> int:
    """Everything fetch does with a hook's pages: read every page and split its records."""
    spec = next(s for s in map(get_source, ("urlhaus", "otx", "abuseipdb")) if s.hook_class is type(hook))
    try:
        return sum(1 for page in hook.iter_pages(WINDOW, **options) for _ in spec.split_records(page))
    finally:
        hook.close()


def _no_key_left(server: HostileFeedServer, other: HostileFeedServer, source: str, own_host: str) -> None:
    key = TEST_KEYS[source]
    assert not any(request.carries(key) for request in other.requests())
    assert all(request.host == own_host for request in server.requests() if request.carries(key))


# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["urlhaus", "otx", "abuseipdb"])
def test_redirect_to_another_host_fails_without_sending_the_key(
    source: str,
    hostile: HostileFeedServer,
    other_server: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, source)
    hostile.route(PATHS[source], redirect(f"{other_server.url}/steal"))
    with pytest.raises(
        FeedRedirectError, match=r"redirects to http://127\.0\.0\.1:\d+, which is not"
    ) as caught:
        _fetch_all(_hook(source))
    assert TEST_KEYS[source] not in str(caught.value)
    assert other_server.requests() == []
    assert len(hostile.requests()) == 1  # no retry
    fault_case(
        f"{source}: 302 to another host",
        "FeedRedirectError, no retry, key never sent to the other host",
        "failed at once; the other host received no request",
    )


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ("http://localhost:{port}/v1/urls/recent/", "another host name, same address"),
        ("https://127.0.0.1:{port}/v1/urls/recent/", "another scheme"),
        ("//127.0.0.2:{port}/v1/urls/recent/", "a scheme-relative link to another host"),
    ],
)
def test_redirect_off_the_connections_origin_is_refused(
    target: str, what: str, hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hostile.route(URLHAUS, redirect(target), json_body(URLS_OK))
    with pytest.raises(FeedRedirectError):
        _fetch_all(_hook("urlhaus"))
    assert [r.host for r in hostile.requests()] == [f"127.0.0.1:{hostile.port}"]
    fault_case(f"urlhaus: 302 to {what}", "FeedRedirectError, no retry", "refused before connecting")


def test_same_host_redirects_are_followed(
    hostile: HostileFeedServer,
    other_server: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hostile.route(URLHAUS, redirect("/moved/"))
    hostile.route("/moved/", redirect("{base_url}/final/", code=307))
    hostile.route("/final/", json_body(URLS_OK))
    assert _fetch_all(_hook("urlhaus")) == 2
    assert [r.path for r in hostile.requests()] == [URLHAUS, "/moved/", "/final/"]
    assert all(r.carries(TEST_KEYS["urlhaus"]) for r in hostile.requests())
    _no_key_left(hostile, other_server, "urlhaus", f"127.0.0.1:{hostile.port}")
    fault_case("urlhaus: 302 then 307 on the same host", "followed (bounded)", "followed, 2 records")


def test_a_redirect_loop_is_bounded(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hostile.route(URLHAUS, redirect(URLHAUS))
    with pytest.raises(FeedRedirectError, match="more than max_redirects=3"):
        _fetch_all(_hook("urlhaus"))
    assert len(hostile.requests()) == 4
    fault_case(
        "urlhaus: redirect loop on the same host", "FeedRedirectError after 3 hops", "failed after 4 requests"
    )


def test_otx_next_link_on_the_host_that_redirects_away_is_refused(
    hostile: HostileFeedServer,
    other_server: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, "otx")
    indicator = {"id": 1, "indicator": "8.8.8.8", "type": "IPv4", "created": "2026-11-28T09:00:00"}
    pulse = {"id": "p1", "name": "pulse", "tlp": "white", "indicators": [indicator]}
    page1 = {**PULSES_OK, "next": "https://otx.alienvault.com/api/v1/pulses/page2", "results": [pulse]}
    hostile.route(OTX, json_body(page1))
    hostile.route("/api/v1/pulses/page2", redirect(f"{other_server.url}/steal"))
    with pytest.raises(FeedRedirectError):
        _fetch_all(_hook("otx"))
    assert other_server.requests() == []
    fault_case(
        "otx: pinned `next` link whose page redirects to another host",
        "FeedRedirectError, no retry",
        "refused; the other host received no request",
    )


def test_post_follows_the_same_rules(
    hostile: HostileFeedServer,
    other_server: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hook = _hook("urlhaus")
    hostile.route("/api/v1/", status(503, "<html>busy</html>"), json_body({"query_status": "ok"}))
    response = hook.post("api/v1/", data={"query": "get_recent", "selector": "time"})
    assert response.json() == {"query_status": "ok"}
    posts = hostile.requests("/api/v1/")
    assert [r.method for r in posts] == ["POST", "POST"]
    assert posts[-1].body == b"query=get_recent&selector=time"
    hostile.route("/api/v1/", redirect(f"{other_server.url}/steal", code=307))
    with pytest.raises(FeedRedirectError):
        hook.post("api/v1/", json={"query": "get_recent"})
    assert other_server.requests() == []
    fault_case("POST: 503 then success; 307 to another host", "retried then green; refused", "as expected")


# -- bounded responses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "behaviour"),
    [
        ("2 GiB gzip bomb", gzip_bomb(2 << 30)),
        ("2 GiB deflate bomb, chunked", deflate_bomb(2 << 30)),
        ("300 MB body with Content-Length", endless(300_000_000)),
        ("300 MB chunked body", endless(300_000_000, chunked=True)),
    ],
)
def test_oversize_bodies_fail_fast_with_bounded_memory(
    case: str,
    behaviour: Callable[..., None],
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hostile.route(URLHAUS, behaviour)
    started = time.monotonic()
    with python_peak() as peak, pytest.raises(FeedTooLargeError, match="max_body_bytes=8388608"):
        _fetch_all(_hook("urlhaus"))
    elapsed = time.monotonic() - started
    assert len(hostile.requests()) == 1  # not retried
    assert peak[0] < 40 * MIB
    assert elapsed < 10
    fault_case(
        f"urlhaus: {case}",
        "FeedTooLargeError at max_body_bytes (8 MiB), no retry, bounded memory",
        f"failed after {elapsed:.1f}s, Python peak {peak[0] / MIB:.1f} MiB",
    )


def test_a_streamed_bomb_stops_at_the_limit_while_parsing(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "abuseipdb", max_body_bytes=16 * MIB)
    hostile.route(ABUSEIPDB, gzip_bomb(2 << 30))
    with python_peak() as peak, pytest.raises(FeedTooLargeError, match="max_body_bytes=16777216"):
        _fetch_all(_hook("abuseipdb"))
    assert peak[0] < 40 * MIB
    fault_case(
        "abuseipdb (streamed): 2 GiB gzip bomb, limit from the connection extra",
        "FeedTooLargeError, bounded memory",
        f"failed, Python peak {peak[0] / MIB:.1f} MiB",
    )


def test_a_slow_drip_fails_within_the_request_time_limit(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "urlhaus", timeout=2, max_request_seconds=1.5)
    hostile.route(URLHAUS, drip(json.dumps(URLS_OK), interval=0.5))
    started = time.monotonic()
    with pytest.raises(FeedUnavailableError, match=r"after 2 attempts.*request time limit"):
        _fetch_all(URLhausHook(max_attempts=2, backoff_initial=0.01))
    elapsed = time.monotonic() - started
    assert len(hostile.requests()) == 2
    assert elapsed < 2 * 1.5 + 1.5
    fault_case(
        "urlhaus: one byte every 0.5 s (read timeout 2 s)",
        "each attempt stops at max_request_seconds (1.5 s); retried, then FeedUnavailableError",
        f"2 attempts failed in {elapsed:.1f}s",
    )


def test_headers_dripped_a_byte_at_a_time_fail_within_the_request_time_limit(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "urlhaus", timeout=2, max_request_seconds=1.5)
    hostile.route(URLHAUS, drip_headers(interval=0.3), json_body(URLS_OK))
    started = time.monotonic()
    assert _fetch_all(URLhausHook(max_attempts=2, backoff_initial=0.01)) == 2
    elapsed = time.monotonic() - started
    assert len(hostile.requests()) == 2
    assert 1.4 < elapsed < 4
    fault_case(
        "urlhaus: headers one byte every 0.3 s (read timeout 2 s), then the feed",
        "the attempt ends at max_request_seconds (1.5 s); retried, then green",
        f"green on the 2nd attempt after {elapsed:.1f}s",
    )


def test_a_read_timeout_is_retried(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "urlhaus", timeout=0.5)
    hostile.route(URLHAUS, stall(2), stall(2, send_headers=True), json_body(URLS_OK))
    assert _fetch_all(_hook("urlhaus")) == 2
    assert len(hostile.requests()) == 3
    fault_case(
        "urlhaus: no answer, then headers and no body (read timeout 0.5 s), then the feed",
        "retried in the task, then green",
        "green after 3 attempts",
    )


# -- transient network failures -------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "first"),
    [
        ("connection reset mid-body", reset_mid_body(json.dumps(URLS_OK))),
        ("body shorter than Content-Length", truncated(json.dumps(URLS_OK))),
        ("429 without Retry-After", status(429)),
        ("429 with Retry-After: 1", status(429, headers={"Retry-After": "1"})),
        ("503 with an HTML body", status(503, "<html>down</html>")),
    ],
)
def test_transient_failures_are_retried_then_succeed(
    case: str,
    first: Callable[..., None],
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hostile.route(URLHAUS, first, json_body(URLS_OK))
    started = time.monotonic()
    assert _fetch_all(_hook("urlhaus")) == 2
    assert len(hostile.requests()) == 2
    if "Retry-After" in case and "without" not in case:
        assert time.monotonic() - started >= 1.0
    fault_case(
        f"urlhaus: {case}, then the feed", "retried in the task, then green", "green on the 2nd attempt"
    )


def test_a_streamed_body_cut_short_is_fetched_again(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, fault_case: FaultCase
) -> None:
    from airflow.sdk import ObjectStoragePath

    from threatstream.operators.fetch import _store_page

    _connect(monkeypatch, hostile, "abuseipdb")
    rows = [{**BLACKLIST_OK["data"][0], "ipAddress": f"8.8.{n // 256}.{n % 256}"} for n in range(300)]  # type: ignore[index]
    body = json.dumps({**BLACKLIST_OK, "data": rows})  # about 30 kB: it breaks after the first read
    hostile.route(ABUSEIPDB, reset_mid_body(body, sent_fraction=0.6), truncated(body), raw_body(body))
    hook = _hook("abuseipdb")
    (page,) = hook.iter_pages(WINDOW)
    path = ObjectStoragePath(tmp_path.as_uri()) / "page.json"
    stored = hook.with_retries("page 1", _store_page, get_source("abuseipdb"), page, path, 0, 1000)
    assert stored.records == 300
    assert path.read_bytes() == body.encode()
    assert stored.context["generated_at"] == "2026-11-28T12:00:00+00:00"
    assert len(hostile.requests()) == 3
    fault_case(
        "abuseipdb (streamed): reset mid-body, then truncated, then the list",
        "the page is requested again and rewritten whole",
        "green on the 3rd attempt, stored page identical to the feed's",
    )


def test_a_persistent_reset_fails_the_try(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "urlhaus")
    hostile.route(URLHAUS, reset_mid_body(json.dumps(URLS_OK)))
    with pytest.raises(FeedUnavailableError, match="after 3 attempts"):
        _fetch_all(_hook("urlhaus"))
    assert len(hostile.requests()) == 3
    fault_case(
        "urlhaus: every attempt reset mid-body", "FeedUnavailableError (Airflow retries)", "as expected"
    )


# -- page-level garbage ---------------------------------------------------------------------


@pytest.mark.parametrize("source", ["urlhaus", "abuseipdb"])
@pytest.mark.parametrize(
    ("case", "body", "message"),
    [
        ("HTML with status 200", b"<html><body>Welcome to nginx</body></html>", "not (valid )?JSON"),
        ("JSON nested 100,000 levels", nested_json(100_000, key="urls"), "nested"),
        ("a 5,000-digit integer", huge_integer(5000, key="urls"), "JSON"),
        ("invalid UTF-8", b'{"query_status": "ok", "urls": [{"url": "\xff\xfe"}]}', "JSON"),
        ("the wrong shape", b'{"query_status": "ok", "urls": {"url": "x"}}', "urls|data"),
    ],
)
def test_page_level_garbage_is_a_format_error(
    source: str,
    case: str,
    body: bytes,
    message: str,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, source)
    if source == "abuseipdb":
        body = body.replace(b'"urls"', b'"data"')
    hostile.route(PATHS[source], raw_body(body))
    with python_peak() as peak, pytest.raises(FeedFormatError, match=message):
        _fetch_all(_hook(source))
    assert len(hostile.requests()) == 1
    assert peak[0] < 40 * MIB
    fault_case(
        f"{source}: {case}",
        "FeedFormatError, no retry",
        f"failed at once, Python peak {peak[0] / MIB:.1f} MiB",
    )


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("6 MB of empty pulses", b'{"results": [' + b"{}," * (2 << 20) + b"{}]}"),
        (
            "one pulse of 12 MB of empty indicators",
            b'{"results": [{"indicators": [' + b"{}," * (4 << 20) + b"{}]}]}",
        ),
    ],
)
def test_otx_pages_of_tiny_objects_are_read_with_bounded_memory(
    case: str, body: bytes, hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "otx")
    hostile.route(OTX, raw_body(body))
    with (
        python_peak() as peak,
        pytest.raises(FeedFormatError, match=r"without an 'indicators' list|larger than"),
    ):
        _fetch_all(_hook("otx"))
    # the page's bytes and at most one record's objects (4 MiB of JSON), never the page's objects
    assert peak[0] < 2 * len(body) + 4 * MIB * 30
    fault_case(
        f"otx: {case}",
        "read item by item (decoded whole, such a page takes about 25 times its size); FeedFormatError",
        f"failed, Python peak {peak[0] / MIB:.1f} MiB",
    )


def test_a_streamed_page_without_its_list_is_not_an_empty_page(fault_case: FaultCase) -> None:
    from threatstream.feeds.pages import FetchedPage

    padding = " " * 200_000  # the shape is only known after the first buffer
    for body in (b'{"meta": {}, "rows": []}', f'{{"meta": {{"pad": "{padding}"}}, "rows": [1]}}'.encode()):
        with pytest.raises(FeedFormatError, match="expected a 'data' list"):
            list(abuseipdb_records(FetchedPage(body)))
    fault_case(
        "abuseipdb: a list under another key", "FeedFormatError, never an empty green run", "as expected"
    )


# -- options and limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "options", "message"),
    [
        ("urlhaus", {"limit": -5}, "'limit' must be between 1 and 1000, got -5"),
        ("otx", {"limit": 0}, "'limit' must be between 1 and 50, got 0"),
        ("otx", {"overlap_minutes": -10}, "'overlap_minutes' must be between 0 and 1440"),
        ("otx", {"indicator_limit": "many"}, "'indicator_limit' must be integer"),
        ("abuseipdb", {"limit": 0}, "'limit' must be between 1 and 1000000"),
        ("abuseipdb", {"confidence_minimum": True}, "'confidence_minimum' must be integer"),
        ("urlhaus", {"limt": 5}, "unknown fetch option 'limt'"),
    ],
)
def test_bad_fetch_options_fail_before_any_request(
    source: str,
    options: dict[str, Any],
    message: str,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, source)
    hostile.route(PATHS[source], json_body(GOOD[source]))
    with pytest.raises(FeedOptionError, match=message):
        _fetch_all(_hook(source), **options)
    assert hostile.requests() == []
    fault_case(
        f"{source}: fetch option {options}", "FeedOptionError before any request, no retry", "as expected"
    )


def test_limits_come_from_connection_extras_and_bad_ones_fail_at_once(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    hostile.route(URLHAUS, json_body(URLS_OK))
    _connect(monkeypatch, hostile, "urlhaus", max_body_bytes=100)
    with pytest.raises(FeedTooLargeError, match="max_body_bytes=100"):
        _fetch_all(_hook("urlhaus"))
    assert "max_body_bytes" not in hostile.requests()[0].headers  # a setting, not a header
    _connect(monkeypatch, hostile, "urlhaus", max_request_seconds="soon")
    with pytest.raises(FeedOptionError, match="'max_request_seconds' must be a positive number, got 'soon'"):
        _fetch_all(_hook("urlhaus"))
    fault_case(
        "urlhaus: limits set in the connection extra (100 bytes; then 'soon')",
        "the extra wins over the source's default; a bad value fails at once",
        "as expected",
    )


def test_a_runaway_next_chain_stops_at_max_pages(
    hostile: HostileFeedServer, monkeypatch: pytest.MonkeyPatch, fault_case: FaultCase
) -> None:
    _connect(monkeypatch, hostile, "otx", max_pages=3)
    pulse = {"id": "p", "name": "n", "indicators": [{"id": 1, "indicator": "8.8.8.8", "type": "IPv4"}]}
    hostile.route(
        OTX,
        *(
            json_body({**PULSES_OK, "results": [pulse], "next": f"{{base_url}}{OTX}?page={n}"})
            for n in range(2, 9)
        ),
    )
    with pytest.raises(FeedLimitExceeded, match="max_pages=3"):
        _fetch_all(_hook("otx"))
    assert len(hostile.requests()) == 3
    fault_case(
        "otx: `next` links that never end",
        "FeedLimitExceeded at max_pages, no retry",
        "stopped after 3 pages",
    )


# -- whole DAG runs -------------------------------------------------------------------------


@pytest.fixture
def run_dag(airflow_db: Any, cosmos_database: str, feed_connections: Any) -> RunDag:
    """Run a source DAG from ``dags/`` with ``dag.test()`` (optionally with a run conf)."""

    def run(dag_id: str, logical_date: datetime, run_conf: dict[str, Any] | None = None) -> RunOutcome:
        return run_dag_file(str(DAGS_FOLDER), dag_id, logical_date, run_conf)

    return run


@pytest.fixture
def stored_documents(cosmos_database: str) -> StoredDocuments:
    """Every document in the test container."""
    from threatstream.store.indicators import IndicatorStoreHook

    return lambda: list(IndicatorStoreHook().query("SELECT * FROM c"))


def _run(
    run_dag: RunDag, monkeypatch: pytest.MonkeyPatch, server: HostileFeedServer, source: str, **extra: Any
) -> RunOutcome:
    _connect(monkeypatch, server, source, **extra)
    return run_dag(f"threatstream_{source}", LOGICAL_DATE)


@pytest.mark.dagrun
def test_dag_redirect_off_host_is_red_after_one_try(
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    hostile: HostileFeedServer,
    other_server: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    hostile.route(URLHAUS, redirect(f"{other_server.url}/steal"))
    outcome = _run(run_dag, monkeypatch, hostile, "urlhaus")
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1
    assert other_server.requests() == []
    assert stored_documents() == []
    fault_case(
        "DAG urlhaus: 302 to another host",
        "fetch red after one try; nothing stored; key not sent",
        "red, 1 try, other host saw nothing",
    )


@pytest.mark.dagrun
@pytest.mark.parametrize(
    ("source", "case", "behaviour"),
    [
        ("urlhaus", "2 GiB gzip bomb", gzip_bomb(2 << 30)),
        ("urlhaus", "HTML with status 200", raw_body("<html>maintenance</html>", content_type="text/html")),
        ("abuseipdb", "JSON nested 100,000 levels", raw_body(nested_json(100_000))),
        ("abuseipdb", "a 5,000-digit integer", raw_body(huge_integer(5000))),
    ],
)
def test_dag_hostile_bodies_are_red_after_one_try(
    source: str,
    case: str,
    behaviour: Callable[..., None],
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    hostile.route(PATHS[source], behaviour)
    outcome = _run(run_dag, monkeypatch, hostile, source, max_body_bytes=16 * MIB)
    assert outcome.state == "failed"
    assert outcome.tries["fetch"] == 1
    assert len(hostile.requests()) == 1
    assert stored_documents() == []
    fault_case(f"DAG {source}: {case}", "fetch red after one try, nothing stored", "red, 1 try")


@pytest.mark.dagrun
@pytest.mark.parametrize(
    ("source", "case", "first"),
    [
        ("urlhaus", "connection reset mid-body", reset_mid_body(json.dumps(URLS_OK))),
        ("urlhaus", "one byte every 0.5 s", drip(json.dumps(URLS_OK), interval=0.5)),
        ("urlhaus", "503", status(503)),
        ("abuseipdb", "streamed list reset mid-body", reset_mid_body(json.dumps(BLACKLIST_OK))),
    ],
)
def test_dag_transient_failures_are_retried_in_the_task_then_green(
    source: str,
    case: str,
    first: Callable[..., None],
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    hostile.route(PATHS[source], first, status(429), json_body(GOOD[source]))
    outcome = _run(run_dag, monkeypatch, hostile, source, max_request_seconds=1.5)
    assert outcome.succeeded
    assert outcome.tries["fetch"] == 1
    assert outcome.results["fetch"]["records"] == 2
    assert len(stored_documents()) == 2
    fault_case(
        f"DAG {source}: {case}, then 429, then the feed", "retried inside the try, then green", "green, 1 try"
    )


@pytest.mark.dagrun
@pytest.mark.parametrize(("source", "conf"), [("urlhaus", {"limit": -5}), ("otx", {"limit": 0})])
def test_dag_bad_fetch_option_fails_fast_without_requests(
    source: str,
    conf: dict[str, Any],
    run_dag: RunDag,
    hostile: HostileFeedServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: FaultCase,
) -> None:
    _connect(monkeypatch, hostile, source)
    hostile.route(PATHS[source], json_body(GOOD[source]))
    try:
        outcome = run_dag(f"threatstream_{source}", LOGICAL_DATE, run_conf=conf)
    except ValueError as refused:  # ParamValidationError: the trigger form's schema refuses it up front
        result = f"refused by the DAG's params ({type(refused).__name__})"
    else:
        assert outcome.state == "failed"
        assert outcome.tries["fetch"] == 1
        result = "fetch red after one try (FeedOptionError)"
    assert hostile.requests() == []
    fault_case(f"DAG {source}: run conf {conf}", "refused or red after one try; no request", result)
