"""A fault-injecting HTTP proxy in front of the local Cosmos-protocol server.

The proxy listens on 127.0.0.1, forwards every request to the server it fronts (keep-alive,
one upstream connection per client connection) and, for the requests a :class:`Fault`
matches, answers or misbehaves instead: a status with headers (429 with or without
``x-ms-retry-after-ms``, 503, 408, 401, 413 for one document), a connection dropped before
or after the request reached the store, or a delay (to kill a worker halfway). The account
metadata (``GET /``) is rewritten so the SDK's endpoint discovery keeps talking to the proxy.

Typical use::

    with CosmosFaultProxy(emulator.url) as proxy:
        proxy.inject(Fault(status=429, headers={"x-ms-retry-after-ms": "50"}, times=3))
        hook = IndicatorStoreHook(...)  # connection login = proxy.url
        ...
        assert proxy.injected == 3

Manual use: ``python -m threatstream_dev.cosmos_fault_proxy UPSTREAM_URL`` forwards without
faults (inject them from Python).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["CosmosFaultProxy", "Fault", "ProxiedRequest"]

#: Headers that describe one hop, never forwarded as they are.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
)
_STATUS_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    408: "RequestTimeout",
    413: "RequestEntityTooLarge",
    429: "TooManyRequests",
    449: "RetryWith",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


@dataclass(frozen=True)
class ProxiedRequest:
    """What the proxy saw of one request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def is_batch(self) -> bool:
        """A transactional batch (``execute_item_batch``)."""
        return self.headers.get("x-ms-cosmos-is-batch-request", "").lower() == "true"

    @property
    def is_document_write(self) -> bool:
        """A batch or a single-document create/upsert/replace."""
        return self.is_batch or (
            self.method in ("POST", "PUT") and "/docs" in self.path and not self.is_query
        )

    @property
    def is_query(self) -> bool:
        return self.headers.get("x-ms-documentdb-isquery", "").lower() == "true"


@dataclass
class Fault:
    """One injected misbehaviour.

    :param status: answer with this status (and a Cosmos-style JSON error body) instead of
        forwarding; None forwards the request.
    :param headers: extra response headers of the injected answer (e.g. ``x-ms-retry-after-ms``).
    :param drop: close the client connection without an answer, ``"before"`` forwarding
        the request or ``"after"`` the store processed it (the write happened, the client
        never hears so).
    :param delay: seconds to wait before forwarding.
    :param on: which requests it applies to: ``"batch"`` (transactional batches),
        ``"write"`` (batches and single-document writes) or ``"any"``.
    :param body_contains: only requests whose body contains these bytes (e.g. one document id).
    :param skip: let this many matching requests through first.
    :param times: how many matching requests to affect (None: all of them).
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: Literal["before", "after"] | None = None
    delay: float = 0.0
    on: Literal["batch", "write", "any"] = "batch"
    body_contains: bytes | None = None
    skip: int = 0
    times: int | None = 1
    seen: int = 0
    applied: int = 0

    def matches(self, request: ProxiedRequest) -> bool:
        if self.on == "batch" and not request.is_batch:
            return False
        if self.on == "write" and not request.is_document_write:
            return False
        return self.body_contains is None or self.body_contains in request.body

    def take(self, request: ProxiedRequest) -> bool:
        """Whether this fault applies to ``request`` (counts it if so)."""
        if not self.matches(request) or (self.times is not None and self.applied >= self.times):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.applied += 1
        return True


class CosmosFaultProxy:
    """A reverse proxy on 127.0.0.1 in front of a Cosmos-protocol server, injecting :class:`Fault` s.

    :param upstream: the server's account endpoint, e.g. ``http://127.0.0.1:8081/``.
    :param port: port to listen on (0 picks a free one).
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"the proxy fronts a plain-HTTP server with a port, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.host = host
        self.port = port
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: list[ProxiedRequest] = []
        self.injected = 0
        self.batches_in_flight = 0
        self.peak_batches_in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The proxy's account endpoint (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return f"http://{self.host}:{self.port}/"

    @property
    def upstream_url(self) -> str:
        return f"http://{self.upstream_host}:{self.upstream_port}/"

    def inject(self, *faults: Fault) -> None:
        """Add faults; each request takes the first fault that applies to it."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Remove every fault and forget the requests seen."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.injected = 0
            self.peak_batches_in_flight = self.batches_in_flight

    def batch_requests(self) -> int:
        """Transactional batch requests seen (faulted or forwarded)."""
        with self._lock:
            return sum(request.is_batch for request in self.requests)

    def connection_json(
        self, database_name: str = "threatstream", collection_name: str = "indicators"
    ) -> str:
        """Airflow connection (JSON form) for the store behind this proxy."""
        from threatstream_dev.cosmos_emulator import EMULATOR_KEY

        return json.dumps(
            {
                "conn_type": "azure_cosmos",
                "login": self.url,
                "password": EMULATOR_KEY,
                "extra": {"database_name": database_name, "collection_name": collection_name},
            }
        )

    def _track(self, request: ProxiedRequest, change: int) -> None:
        """Count transactional batches being answered at once (``peak_batches_in_flight``)."""
        if request.is_batch:
            with self._lock:
                self.batches_in_flight += change
                self.peak_batches_in_flight = max(self.peak_batches_in_flight, self.batches_in_flight)

    def _fault_for(self, request: ProxiedRequest) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.take(request):
                    self.injected += 1
                    return fault
        return None

    def start(self) -> CosmosFaultProxy:
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_class(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cosmos-fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> CosmosFaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _handler_class(proxy: CosmosFaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        owner = proxy

    return Handler


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK expects
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    owner: CosmosFaultProxy
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read :attr:`CosmosFaultProxy.requests` instead."""

    def do_GET(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def do_PATCH(self) -> None:
        self._proxy()

    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        request = ProxiedRequest(self.command, self.path, headers, body)
        self.owner._track(request, +1)
        try:
            self._answer(request)
        finally:
            self.owner._track(request, -1)

    def _answer(self, request: ProxiedRequest) -> None:
        fault = self.owner._fault_for(request)
        if fault is not None and fault.drop == "before":
            self._drop()
            return
        if fault is not None and fault.status is not None:
            self._answer_fault(fault)
            return
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        try:
            status, reason, response_headers, response_body = self._forward(request)
        except OSError:
            self._drop()
            return
        if fault is not None and fault.drop == "after":
            self._drop()
            return
        if self.command == "GET" and self.path in ("", "/"):  # account metadata: keep the SDK here
            response_body = response_body.replace(
                self.owner.upstream_url.rstrip("/").encode(), self.owner.url.rstrip("/").encode()
            )
        self.send_response(status, reason)
        for key, value in response_headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response_body)))
        self.end_headers()
        self.wfile.write(response_body)

    def _forward(self, request: ProxiedRequest) -> tuple[int, str, list[tuple[str, str]], bytes]:
        headers = {key: value for key, value in request.headers.items() if key not in _HOP_BY_HOP}
        headers["host"] = f"{self.owner.upstream_host}:{self.owner.upstream_port}"
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(
                    self.owner.upstream_host, self.owner.upstream_port, timeout=60
                )
                self._upstream.connect()
                assert self._upstream.sock is not None
                self._upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._upstream.request(
                    request.method, request.path, body=request.body or None, headers=headers
                )
                response = self._upstream.getresponse()
                return response.status, response.reason, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _answer_fault(self, fault: Fault) -> None:
        status = fault.status or 500
        code = _STATUS_CODES.get(status, "Error")
        body = json.dumps({"code": code, "message": f"Injected fault: {status} {code}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-ms-activity-id", "00000000-0000-0000-0000-000000000000")
        for key, value in fault.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        """Close the client connection with no answer at all."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        super().finish()
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Forward to a local Cosmos-protocol server (no faults).")
    parser.add_argument("upstream", help="the server's URL, e.g. http://127.0.0.1:8081/")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with CosmosFaultProxy(args.upstream, port=args.port) as proxy:
        print(proxy.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
