"""Local HTTP replay of the threat-intel feeds (URLhaus, AlienVault OTX, AbuseIPDB, and the rest).

One server serves every source under its real API paths (``/v1/urls/...``, ``/api/v1/pulses/...``,
``/api/v2/blacklist``, ...), checks each source's auth header, and answers from the fixtures in
``include/feeds/<source>/``. Sources whose real hosts share paths (ThreatFox and MalwareBazaar both
answer ``POST /api/v1/``) are *mounted* under a path of their own (``/threatfox/api/v1/``), standing in
for their host; their connection's base URL includes the mount. Tests drive it in-process
(:class:`FeedReplayServer`); a server started with
``python -m threatstream_dev.feed_replay --port 0`` is driven over HTTP instead:

* ``POST /_replay/faults``    ``{"source", "status", "body", "headers", "times", "path"}``
* ``POST /_replay/scenario``  ``{"source", "scenario"}``
* ``POST /_replay/reset``
* ``GET  /_replay/requests[?source=otx]``
* ``GET  /_replay/status``

Fixture format (``<source>/routes.json``)::

    {"prefixes": ["/v1/"],                       # request paths that belong to this source
     "mount": "/threatfox",                      # optional: served under this path (a stand-in host)
     "auth": {"header": "Auth-Key", "keys": [...],
              "missing": <response>, "invalid": <response>},   # optional: no auth block, no check
     "scenarios": {"default": [<route>, ...], "<name>": [<route>, ...]}}

A route is ``{"method": "GET", "path": "/v1/urls/recent/limit/{limit}/", "query": {...}, "status": 200,
"headers": {...}, "body_file": "x.json" | "body": <inline JSON or text>, "limit": {...}, "set": {...},
"request_body": {...}}``.

* ``query`` constrains request parameters: ``"2"`` exact value, ``"*"`` present with any value, ``null``
  absent; a list means any of its items.
* ``request_body`` constrains the fields of a POST body (a JSON object or a form), the same way; values
  are compared as strings (JSON ``1`` matches ``"1"``). A body that is neither matches no constraint.
* ``limit`` ``{"param", "in": "path"|"query", "items": "<top-level list key>" | null}`` keeps the first N
  items of that JSON list (``null``: the first N lines of a text body).
* ``set`` overrides top-level keys of a JSON body (used to re-point OTX ``next`` links).
* ``{base_url}`` in a body or in ``set`` values becomes the server's own URL as the client addressed it
  (``http://`` + the ``Host`` header, e.g. ``http://127.0.0.1:8123``), plus the source's mount.

* ``delay`` waits that many seconds before answering (a slow feed).

Routes are tried in order, those of the active scenario first, then the default ones. Requests are
checked in this order: injected fault, auth header, route; an unknown path gives a 404 JSON body.

**Live mode** (``FeedReplayServer(live=True)``, ``--live``; what ``make airflow`` runs): the fixtures
were recorded at fixed dates, so for a scheduler asking about today every timestamp in a body
(``2026-05-28T09:43:18``, ``2026-05-30 11:59:00 UTC``, URL-encoded ones in ``next`` links) is
shifted by one offset per request. A source's ``"live": {"param": "modified_since", "anchor": "<time>"}``
maps ``anchor`` onto the request's ``modified_since`` (OTX: pulses appear modified within the
requested window, and ``next`` links carry the shifted value, so every page gets the same offset);
without ``param`` (or when the request lacks it) ``anchor`` maps onto the current time, or onto
the source's last offset for follow-up requests (``page`` > 1, OTX indicator pages, or a
``param`` value that, moved back by the last offset, is one a route names exactly: TAXII's
``added_after`` = the previous page's ``X-TAXII-Date-Added-Last``). Response headers are shifted
too, and a request's query values are moved back by the offset before they are matched against
the routes (TAXII ``next`` tokens and ``added_after`` values carry shifted timestamps). A source
whose ``routes.json`` has no ``live`` block takes it from :data:`LIVE_DEFAULTS`; a source with
neither is served verbatim (snapshot files whose dates do not matter to their parser).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

TEST_KEYS: dict[str, str] = {
    "urlhaus": "urlhaus-test-key",
    "otx": "otx-test-key",
    "abuseipdb": "abuseipdb-test-key",
    "threatfox": "threatfox-test-key",
    "malwarebazaar": "malwarebazaar-test-key",
    "taxii": "taxii-test-key",  # sent as "Authorization: Bearer <key>" (or Basic, with a login)
}
"""The API key each keyed source's fixtures accept (``Auth-Key``, ``X-OTX-API-KEY``, ``Key``, ...)."""

DEFAULT_FIXTURES_DIR = Path(__file__).resolve().parents[2] / "include" / "feeds"
#: Live-mode settings of sources whose ``routes.json`` has no ``live`` block. TAXII: the first
#: objects request of the fixture asks ``added_after`` = the start of the hour 09:00-10:00 of
#: 2026-11-28 (see ``tests/pipelines/test_taxii_dag.py``), which live mode maps onto the run's.
LIVE_DEFAULTS: dict[str, dict[str, str]] = {
    "taxii": {"param": "added_after", "anchor": "2026-11-28T09:00:00"},
}
REDACTED = "<redacted>"
CONTROL_PREFIX = "/_replay/"
_SECRET_HEADERS = frozenset({"authorization", "cookie"})
_SECRET_QUERY_PARAMS = frozenset({"key"})  # AbuseIPDB also accepts its key as ?key=
_CONTENT_TYPES = {".json": "application/json", ".txt": "text/plain; charset=utf-8", ".html": "text/html"}
_ROUTE_KEYS = frozenset(
    {
        "description",
        "method",
        "path",
        "query",
        "request_body",
        "status",
        "headers",
        "body",
        "body_file",
        "limit",
        "set",
        "delay",
    }
)

Query = dict[str, list[str]]


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class RecordedRequest:
    """One request the replay server answered; secrets in headers and query are redacted."""

    source: str | None
    method: str
    path: str
    query: Query
    headers: dict[str, str]
    status: int
    timestamp: datetime
    body: Query = field(default_factory=dict)  # fields of a JSON-object or form body

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "status": self.status,
            "timestamp": self.timestamp.isoformat(),
            "body": self.body,
        }


@dataclass(frozen=True)
class _Limit:
    param: str
    location: str  # "path" or "query"
    items: str | None  # top-level JSON list key; None: lines of a text body


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    query: dict[str, list[str | None]]
    request_body: dict[str, list[str | None]]
    status: int
    headers: dict[str, str]
    body: bytes
    limit: _Limit | None
    overrides: dict[str, Any]
    delay: float = 0.0

    def render(self, base_url: str, path_params: Mapping[str, str], query: Query) -> Response:
        body = self.body.replace(b"{base_url}", base_url.encode())
        if self.limit is not None:
            if self.limit.location == "path":
                raw = path_params.get(self.limit.param)
            else:
                raw = query[self.limit.param][-1] if self.limit.param in query else None
            if raw is not None:
                if not raw.isdigit():
                    return _json_response(400, {"error": f"invalid {self.limit.param}: {raw!r}"})
                body = _truncate(body, int(raw), self.limit.items)
        if self.overrides:
            document = json.loads(body)
            for key, value in self.overrides.items():
                document[key] = value.replace("{base_url}", base_url) if isinstance(value, str) else value
            body = _dump(document)
        return Response(self.status, dict(self.headers), body)


@dataclass(frozen=True)
class _Live:
    """How live mode shifts a source's timestamps: ``anchor`` maps onto ``param`` (or now)."""

    anchor: datetime
    param: str | None


@dataclass(frozen=True)
class _Source:
    name: str
    prefixes: tuple[str, ...]
    auth_header: str | None  # None: the source checks no key
    keys: frozenset[str]
    missing_key: Response | None
    invalid_key: Response | None
    scenarios: dict[str, list[_Route]]
    mount: str = ""
    live: _Live | None = None

    def owns(self, path: str) -> bool:
        return path.startswith(self.mount) and path.removeprefix(self.mount).startswith(self.prefixes)


#: A fixture timestamp: date, ``T`` or space, time (``:`` possibly URL-encoded), optional fraction.
_TIMESTAMP = re.compile(rb"(\d{4}-\d{2}-\d{2})([T ])(\d{2})(:|%3A)(\d{2})(:|%3A)(\d{2})")


def _naive_utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").removesuffix(" UTC"))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def shift_timestamps(body: bytes, delta: timedelta) -> bytes:
    """Every timestamp in ``body`` moved by ``delta`` (whole seconds), its format kept."""
    seconds = timedelta(seconds=round(delta.total_seconds()))

    def shift(match: re.Match[bytes]) -> bytes:
        date, sep, hour, colon1, minute, colon2, second = (g.decode() for g in match.groups())
        try:
            moved = datetime.fromisoformat(f"{date}T{hour}:{minute}:{second}") + seconds
        except ValueError:
            return match.group(0)
        return f"{moved:%Y-%m-%d}{sep}{moved:%H}{colon1}{moved:%M}{colon2}{moved:%S}".encode()

    return _TIMESTAMP.sub(shift, body)


@dataclass
class _Fault:
    source: str
    path: str | None
    query: dict[str, list[str | None]]
    response: Response
    remaining: int


def _dump(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _json_response(status: int, document: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, _dump(document))


def _truncate(body: bytes, count: int, items: str | None) -> bytes:
    if items is None:
        return b"".join(body.splitlines(keepends=True)[:count])
    document = json.loads(body)
    document[items] = document[items][:count]
    return _dump(document)


def _compile_path(template: str) -> re.Pattern[str]:
    """``/v1/urls/recent/limit/{limit}/`` -> a regex with a named group per ``{name}``."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$")


def _constraints(spec: Mapping[str, Any]) -> dict[str, list[str | None]]:
    return {name: list(value) if isinstance(value, list) else [value] for name, value in spec.items()}


def _body_fields(body: bytes, headers: Mapping[str, str]) -> Query:
    """The fields of a JSON-object or form POST body, as strings (like query parameters)."""
    content_type = (_header(headers, "Content-Type") or "").lower()
    if "application/x-www-form-urlencoded" in content_type:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    try:
        document = json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: [v if isinstance(v, str) else json.dumps(v)] for k, v in document.items()}


def _query_matches(constraints: Mapping[str, list[str | None]], query: Query) -> bool:
    for name, allowed in constraints.items():
        value = query[name][-1] if name in query else None
        if not (value in allowed or (value is not None and "*" in allowed)):
            return False
    return True


def _guess_content_type(body: bytes) -> str:
    start = body.lstrip()[:1]
    if start in (b"{", b"["):
        return "application/json"
    if start == b"<":
        return "text/html; charset=utf-8"
    return "text/plain; charset=utf-8"


def _shift_text(text: str, delta: timedelta) -> str:
    """Every timestamp in ``text`` moved by ``delta`` (see :func:`shift_timestamps`)."""
    return shift_timestamps(text.encode(), delta).decode() if any(c.isdigit() for c in text) else text


def _shift_query(query: Query, delta: timedelta) -> Query:
    return {name: [_shift_text(value, delta) for value in values] for name, values in query.items()}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _load_response(spec: Mapping[str, Any], directory: Path) -> Response:
    """The status, headers and body of a route or auth-error spec, with a Content-Type."""
    headers = {str(k): str(v) for k, v in spec.get("headers", {}).items()}
    if "body_file" in spec:
        path = directory / str(spec["body_file"])
        body = path.read_bytes()
        content_type = _CONTENT_TYPES.get(path.suffix, _guess_content_type(body))
    elif isinstance(spec.get("body"), str):
        body = spec["body"].encode()
        content_type = _guess_content_type(body)
    else:
        body = _dump(spec.get("body"))
        content_type = "application/json"
    if _header(headers, "Content-Type") is None:
        headers["Content-Type"] = content_type
    return Response(int(spec.get("status", 200)), headers, body)


def _load_route(spec: Mapping[str, Any], directory: Path) -> _Route:
    unknown = set(spec) - _ROUTE_KEYS
    if unknown:
        raise ValueError(f"{directory.name}: unknown route keys {sorted(unknown)} in {spec.get('path')}")
    response = _load_response(spec, directory)
    limit_spec = spec.get("limit")
    limit = None
    if limit_spec is not None:
        if limit_spec.get("in") not in ("path", "query"):
            raise ValueError(f"{directory.name}: limit 'in' must be 'path' or 'query' in {spec['path']}")
        limit = _Limit(str(limit_spec["param"]), str(limit_spec["in"]), limit_spec.get("items"))
    return _Route(
        method=str(spec.get("method", "GET")).upper(),
        pattern=_compile_path(str(spec["path"])),
        query=_constraints(spec.get("query", {})),
        request_body=_constraints(spec.get("request_body", {})),
        status=response.status,
        headers=response.headers,
        body=response.body,
        limit=limit,
        overrides=dict(spec.get("set", {})),
        delay=float(spec.get("delay", 0.0)),
    )


def _load_source(directory: Path) -> _Source:
    """Parse ``<directory>/routes.json`` and read every body file it names."""
    spec = json.loads((directory / "routes.json").read_text(encoding="utf-8"))
    auth = spec.get("auth")
    scenarios = {
        name: [_load_route(route, directory) for route in routes]
        for name, routes in spec["scenarios"].items()
    }
    if "default" not in scenarios:
        raise ValueError(f"{directory}/routes.json has no 'default' scenario")
    live = spec.get("live") or LIVE_DEFAULTS.get(directory.name)
    return _Source(
        live=_Live(_naive_utc(str(live["anchor"])), live.get("param")) if live else None,
        name=directory.name,
        prefixes=tuple(spec["prefixes"]),
        auth_header=str(auth["header"]) if auth else None,
        keys=frozenset(auth["keys"]) if auth else frozenset(),
        missing_key=_load_response(auth["missing"], directory) if auth else None,
        invalid_key=_load_response(auth["invalid"], directory) if auth else None,
        scenarios=scenarios,
        mount=str(spec.get("mount", "")).rstrip("/"),
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], replay: FeedReplayServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.replay = replay
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "ThreatStreamFeedReplay/1.0"
    timeout = 30  # close idle keep-alive connections
    verbose = False

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        replay = cast(_HTTPServer, self.server).replay
        try:
            response = replay.handle(self.command, self.path, dict(self.headers.items()), body)
        except Exception as exc:  # a broken fixture: answer instead of dropping the connection
            response = _json_response(500, {"error": f"replay server error: {type(exc).__name__}: {exc}"})
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)


class FeedReplayServer:
    """Serves the feed fixtures on ``host:port`` (port 0: a free one) from a daemon thread."""

    def __init__(
        self, fixtures_dir: Path | None = None, *, host: str = "127.0.0.1", port: int = 0, live: bool = False
    ) -> None:
        self.fixtures_dir = fixtures_dir or DEFAULT_FIXTURES_DIR
        self.host = host
        self.live = live
        self._live_deltas: dict[str, timedelta] = {}
        self._requested_port = port
        routes_files = sorted(self.fixtures_dir.glob("*/routes.json"))
        self.sources: dict[str, _Source] = {p.parent.name: _load_source(p.parent) for p in routes_files}
        if not self.sources:
            raise FileNotFoundError(f"no <source>/routes.json under {self.fixtures_dir}")
        self._secret_headers = _SECRET_HEADERS | {
            s.auth_header.lower() for s in self.sources.values() if s.auth_header
        }
        self._lock = threading.Lock()
        self._scenarios: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._log: list[RecordedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FeedReplayServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> _HTTPServer:
        """Open the listening socket (``start`` calls this; the CLI serves it in the foreground)."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self._requested_port), self)
        return self._httpd

    def start(self) -> FeedReplayServer:
        if self._thread is None:
            httpd = self.bind()
            self._thread = threading.Thread(target=httpd.serve_forever, name="feed-replay", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=5)
            self._httpd.server_close()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FeedReplayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- control ----------------------------------------------------------------------------------

    def inject_fault(
        self,
        source: str,
        *,
        status: int,
        body: str | bytes = b"",
        headers: dict[str, str] | None = None,
        times: int = 1,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests of ``source`` with this response instead.

        ``path`` narrows the fault to one request path; a query in it (``/api/v1/pulses/subscribed?page=2``)
        must match too. Faults are checked before auth, in the order they were injected.
        """
        self._source(source)
        if not 100 <= status <= 599 or times < 1:
            raise ValueError(f"bad fault: status={status} times={times}")
        raw = body.encode() if isinstance(body, str) else body
        all_headers = dict(headers or {})
        if _header(all_headers, "Content-Type") is None and raw:
            all_headers["Content-Type"] = _guess_content_type(raw)
        fault_path, query = None, {}
        if path is not None:
            split = urlsplit(path)
            fault_path = split.path
            query = _constraints({k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()})
        with self._lock:
            self._faults.append(_Fault(source, fault_path, query, Response(status, all_headers, raw), times))

    def use_scenario(self, source: str, scenario: str) -> None:
        """Serve ``scenario``'s routes of ``source`` ahead of its default ones; "default" restores."""
        if scenario not in self._source(source).scenarios:
            raise ValueError(f"{source} has no scenario {scenario!r}")
        with self._lock:
            self._scenarios[source] = scenario

    def reset(self) -> None:
        with self._lock:
            self._scenarios.clear()
            self._faults.clear()
            self._log.clear()

    def requests(self, source: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._log if source is None or r.source == source]

    def connection_json(
        self, source: str, *, key: str | None = None, extra: dict[str, object] | None = None
    ) -> str:
        """Airflow HTTP connection JSON for ``source`` (key defaults to ``TEST_KEYS``; ``""`` omits it).

        A mounted source's connection names its base URL in ``host`` (``http://127.0.0.1:8123/threatfox``),
        as a connection may for a feed served below a path.
        """
        mount = self._source(source).mount
        password = TEST_KEYS.get(source, "") if key is None else key
        conn: dict[str, object] = {
            "conn_type": "http",
            "host": self.host,
            "port": self.port,
            "schema": "http",
        }
        if mount:
            conn = {"conn_type": "http", "host": self.url + mount}
        if password:
            conn["password"] = password
        conn["extra"] = {"timeout": 10, **(extra or {})}
        return json.dumps(conn)

    # -- request handling -------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        """Answer one request (``target`` is the request path with its query string)."""
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path, query, body)
        # Mounted sources first: their paths would otherwise fall under an unmounted prefix.
        owners = sorted(self.sources.values(), key=lambda s: not s.mount)
        source = next((s for s in owners if s.owns(path)), None)
        response = self._serve(source, method, path, query, headers, body)
        record = RecordedRequest(
            source=source.name if source else None,
            method=method,
            path=path,
            query={k: [REDACTED] if k.lower() in _SECRET_QUERY_PARAMS else v for k, v in query.items()},
            headers={k: REDACTED if k.lower() in self._secret_headers else v for k, v in headers.items()},
            status=response.status,
            timestamp=datetime.now(UTC),
            body={
                k: [REDACTED] if k.lower() in _SECRET_QUERY_PARAMS else v
                for k, v in _body_fields(body, headers).items()
            },
        )
        with self._lock:
            self._log.append(record)
        return response

    def _serve(  # noqa: PLR0917 (one request's parts)
        self,
        source: _Source | None,
        method: str,
        path: str,
        query: Query,
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> Response:
        if source is None:
            return _json_response(404, {"error": "no replay source for this path", "path": path})
        fault = self._take_fault(source.name, path, query)
        if fault is not None:
            return fault
        if source.auth_header is not None:
            key = _header(headers, source.auth_header)
            if not key:
                return cast(Response, source.missing_key)
            if key not in source.keys:
                return cast(Response, source.invalid_key)
        with self._lock:
            scenario = self._scenarios.get(source.name, "default")
        routes = source.scenarios[scenario] + (source.scenarios["default"] if scenario != "default" else [])
        route_path = path.removeprefix(source.mount)
        fields = _body_fields(body, headers) if any(r.request_body for r in routes) else {}
        delta: timedelta | None = None
        if self.live and source.live is not None:
            delta = self._live_delta(source, routes, query)
            query = _shift_query(query, -delta)  # match the routes in the fixture's time
        for route in routes:
            match = route.pattern.match(route_path)
            if (
                match
                and route.method == method
                and _query_matches(route.query, query)
                and _query_matches(route.request_body, fields)
            ):
                host = _header(headers, "Host")
                if route.delay:
                    time.sleep(route.delay)
                base_url = (f"http://{host}" if host else self.url) + source.mount
                response = route.render(base_url, match.groupdict(), query)
                if delta is not None and response.status < 300:
                    response = Response(
                        response.status,
                        {name: _shift_text(value, delta) for name, value in response.headers.items()},
                        shift_timestamps(response.body, delta),
                    )
                return response
        return _json_response(404, {"error": "no replay route", "method": method, "path": path})

    def _live_delta(self, spec: _Source, routes: list[_Route], query: Query) -> timedelta:
        """The offset that moves ``live.anchor`` onto this request's reference time."""
        source, live = spec.name, cast(_Live, spec.live)
        first_page = query.get("page", ["1"])[-1] in ("", "1")  # later pages keep the first's offset
        reference = query.get(live.param, [""])[-1] if live.param and first_page else ""
        with self._lock:
            previous = self._live_deltas.get(source)
            if reference and previous is not None and live.param:
                # A follow-up request naming a value of the fixture (shifted): keep the offset.
                named = {value for route in routes for value in route.query.get(live.param, ())}
                if _shift_text(reference, -previous) in named:
                    reference = ""
            if reference:
                try:
                    delta = _naive_utc(reference) - live.anchor
                except ValueError:
                    delta = datetime.now(UTC).replace(tzinfo=None) - live.anchor
            elif source in self._live_deltas and (live.param or query.get("page", ["1"])[-1] != "1"):
                delta = self._live_deltas[source]
            else:
                delta = datetime.now(UTC).replace(tzinfo=None) - live.anchor
            self._live_deltas[source] = delta
            return delta

    def _take_fault(self, source: str, path: str, query: Query) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.source == source
                    and fault.path in (None, path)
                    and _query_matches(fault.query, query)
                ):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.response
        return None

    def _source(self, name: str) -> _Source:
        try:
            return self.sources[name]
        except KeyError:
            raise ValueError(f"unknown source {name!r}; known: {sorted(self.sources)}") from None

    def _control(self, method: str, path: str, query: Query, body: bytes) -> Response:
        action = (method, path.removeprefix(CONTROL_PREFIX).rstrip("/"))
        try:
            args: dict[str, Any] = json.loads(body) if body else {}
            if action == ("POST", "faults"):
                self.inject_fault(
                    args["source"],
                    status=int(args["status"]),
                    body=str(args.get("body", "")),
                    headers=args.get("headers"),
                    times=int(args.get("times", 1)),
                    path=args.get("path"),
                )
            elif action == ("POST", "scenario"):
                self.use_scenario(args["source"], args["scenario"])
            elif action == ("POST", "reset"):
                self.reset()
            elif action == ("GET", "requests"):
                source = query.get("source", [None])[-1]
                return _json_response(200, [r.to_json() for r in self.requests(source)])
            elif action == ("GET", "status"):
                with self._lock:
                    status = {
                        "url": self.url,
                        "sources": sorted(self.sources),
                        "scenarios": {name: self._scenarios.get(name, "default") for name in self.sources},
                        "pending_faults": len(self._faults),
                    }
                return _json_response(200, status)
            else:
                return _json_response(404, {"error": "unknown control endpoint", "path": path})
        except (KeyError, ValueError, TypeError) as exc:
            return _json_response(400, {"error": f"{type(exc).__name__}: {exc}"})
        return _json_response(200, {"ok": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fixtures", type=Path, default=None, help=f"default: {DEFAULT_FIXTURES_DIR}")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--live", action="store_true", help="shift fixture timestamps to the requested times")
    args = parser.parse_args(argv)
    _Handler.verbose = args.verbose
    server = FeedReplayServer(args.fixtures, host=args.host, port=args.port, live=args.live)
    httpd = server.bind()
    print(f"Feed replay server at {server.url}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
