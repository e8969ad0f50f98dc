"""A hostile feed server: real HTTP on 127.0.0.1 with the socket-level misbehaviour of broken
or malicious upstreams, which the replay server (a well-behaved ``http.server``) cannot produce.

Each path is given a script of behaviours; every request to it takes the next one (the
last repeats), so "429 twice, then the feed" is ``server.route(path, status(429),
status(429), json_body(doc))``. Behaviours write raw bytes to the socket:

* ``json_body`` / ``raw_body`` / ``status``: ordinary answers (any status, headers, body);
* ``redirect``: a 3xx with a ``Location`` (``{base_url}`` and ``{port}`` are substituted);
* ``drip`` / ``drip_headers``: a body (or the headers) sent one byte at a time, each after a
  pause (a per-read timeout never fires);
* ``gzip_bomb``: a small gzip body that inflates to gigabytes (built from repeated members);
* ``endless``: a valid JSON prefix followed by an endless or very long body, streamed;
* ``reset_mid_body``: part of the body, then a TCP reset;
* ``truncated``: fewer bytes than ``Content-Length``, then a normal close;
* ``stall``: headers (or nothing), then silence (a read timeout).

Every request is recorded with its raw headers, so a test can prove which host a key reached.
Run ``python -m threatstream_dev.hostile_feed`` to serve a bomb, a drip and a redirect by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from threatstream_dev.feed_replay import TEST_KEYS

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_CHUNK = 1 << 16


@dataclass(frozen=True)
class HostileRequest:
    """One request as received: method, path, query, raw headers (keys included) and body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    timestamp: float = field(default_factory=time.monotonic)

    @property
    def host(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "host"), "")

    def carries(self, secret: str) -> bool:
        """Whether ``secret`` appears in any header value, the target or the body."""
        target = self.path + json.dumps(self.query)
        return (
            secret in target
            or secret in self.body.decode("latin-1")
            or any(secret in value for value in self.headers.values())
        )


@dataclass(frozen=True)
class Reply:
    """What a behaviour writes to: the client's socket and how the client addressed this server."""

    sock: socket.socket
    request: HostileRequest
    base_url: str
    port: int

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def head(self, status: int, headers: Mapping[str, str], length: int | None) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines.append("Connection: close")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def substitute(self, text: str) -> str:
        return text.replace("{base_url}", self.base_url).replace("{port}", str(self.port))


#: A scripted answer to one request.
Behaviour = Callable[[Reply], None]


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def raw_body(body: bytes | str, *, status: int = 200, content_type: str = "application/json",
             headers: Mapping[str, str] | None = None) -> Behaviour:  # fmt: skip
    """An ordinary response with ``Content-Length``."""
    data = _as_bytes(body)

    def behave(reply: Reply) -> None:
        reply.head(status, {"Content-Type": content_type, **(headers or {})}, len(data))
        reply.send(data)

    return behave


def json_body(document: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Behaviour:
    """A JSON document (``{base_url}`` in strings is replaced by this server's URL)."""

    def behave(reply: Reply) -> None:
        text = reply.substitute(json.dumps(document))
        raw_body(text, status=status, headers=headers)(reply)

    return behave


def status(code: int, body: Any = b"", *, headers: Mapping[str, str] | None = None) -> Behaviour:
    """A bare status (e.g. 429 with or without ``Retry-After``, 503 with an HTML body)."""
    content_type = "text/html" if isinstance(body, str) and body.startswith("<") else "application/json"
    return raw_body(_as_bytes(body), status=code, content_type=content_type, headers=headers)


def redirect(location: str, *, code: int = 302) -> Behaviour:
    """A redirect; ``{base_url}``/``{port}`` in ``location`` name this server as the client addressed it."""

    def behave(reply: Reply) -> None:
        reply.head(code, {"Location": reply.substitute(location)}, 0)

    return behave


def file_body(path: str | Path, *, content_type: str = "application/json") -> Behaviour:
    """A (large) file streamed from disk with ``Content-Length`` (e.g. a generated 1M-row blacklist)."""
    source = Path(path)

    def behave(reply: Reply) -> None:
        reply.head(200, {"Content-Type": content_type}, source.stat().st_size)
        with source.open("rb") as handle:
            while data := handle.read(_CHUNK):
                reply.send(data)

    return behave


def drip(body: bytes | str, *, interval: float = 0.5) -> Behaviour:
    """The body one byte at a time, ``interval`` seconds apart (each read returns before a timeout)."""
    data = _as_bytes(body)

    def behave(reply: Reply) -> None:
        reply.head(200, {"Content-Type": "application/json"}, len(data))
        for offset in range(len(data)):
            reply.send(data[offset : offset + 1])
            time.sleep(interval)

    return behave


def drip_headers(*, interval: float = 0.5, header_bytes: int = 10_000) -> Behaviour:
    """A status line, then header bytes one at a time, ``interval`` seconds apart."""

    def behave(reply: Reply) -> None:
        reply.send(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        for _ in range(header_bytes):
            reply.send(b"a")
            time.sleep(interval)

    return behave


def gzip_bomb(inflated_bytes: int = 2 << 30, *, prefix: bytes = b'{"data": [') -> Behaviour:
    """A gzip body (``Content-Encoding: gzip``) that inflates to ``inflated_bytes`` of JSON whitespace.

    Built from one compressed MiB repeated as gzip members (about 1 kB each), so a 2 GiB
    bomb costs the server about 2 MB and no time.
    """
    member = gzip.compress(b" " * (1 << 20), compresslevel=9)
    head = gzip.compress(prefix)
    count = inflated_bytes // (1 << 20)

    def behave(reply: Reply) -> None:
        reply.head(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                   len(head) + count * len(member))  # fmt: skip
        reply.send(head)
        for _ in range(count):
            reply.send(member)

    return behave


def deflate_bomb(inflated_bytes: int = 2 << 30) -> Behaviour:
    """A chunked zlib body (``Content-Encoding: deflate``) inflating to ``inflated_bytes``."""
    block = b" " * (1 << 20)

    def behave(reply: Reply) -> None:
        reply.head(200, {"Content-Encoding": "deflate", "Transfer-Encoding": "chunked"}, None)
        compressor = zlib.compressobj(9)
        reply.send(_chunk(compressor.compress(b'{"data": [')))
        for _ in range(inflated_bytes // len(block)):
            if piece := compressor.compress(block):
                reply.send(_chunk(piece))
        reply.send(_chunk(compressor.flush()) + b"0\r\n\r\n")

    return behave


def endless(total_bytes: int, *, prefix: bytes = b'{"query_status": "ok", "urls": [',
            chunked: bool = False) -> Behaviour:  # fmt: skip
    """A JSON prefix, then ``total_bytes`` of whitespace streamed (``Content-Length`` or chunked)."""
    block = b" " * _CHUNK

    def behave(reply: Reply) -> None:
        if chunked:
            reply.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, None)
        else:
            reply.head(200, {"Content-Type": "application/json"}, len(prefix) + total_bytes)
        reply.send(_chunk(prefix) if chunked else prefix)
        sent = 0
        while sent < total_bytes:
            piece = block[: min(_CHUNK, total_bytes - sent)]
            reply.send(_chunk(piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            reply.send(b"0\r\n\r\n")

    return behave


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def reset_mid_body(body: bytes | str, *, sent_fraction: float = 0.5) -> Behaviour:
    """Headers promising the whole body, part of it, then a TCP reset (RST)."""
    data = _as_bytes(body)

    def behave(reply: Reply) -> None:
        reply.head(200, {"Content-Type": "application/json"}, len(data))
        reply.send(data[: int(len(data) * sent_fraction)])
        time.sleep(0.05)
        reply.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reply.sock.close()

    return behave


def truncated(body: bytes | str, *, claimed_extra: int = 1000) -> Behaviour:
    """``Content-Length`` larger than the body sent, then an orderly close."""
    data = _as_bytes(body)

    def behave(reply: Reply) -> None:
        reply.head(200, {"Content-Type": "application/json"}, len(data) + claimed_extra)
        reply.send(data)
        reply.sock.shutdown(socket.SHUT_WR)

    return behave


def stall(seconds: float, *, send_headers: bool = False) -> Behaviour:
    """Nothing (or only the headers) for ``seconds``: the client's read timeout fires."""

    def behave(reply: Reply) -> None:
        if send_headers:
            reply.head(200, {"Content-Type": "application/json"}, 100)
        time.sleep(seconds)

    return behave


def nested_json(depth: int, *, key: str = "data") -> bytes:
    """A document whose ``key`` list holds one value nested ``depth`` levels deep."""
    return b'{"%s": [' % key.encode() + b"[" * depth + b"]" * depth + b"]}"


def huge_integer(digits: int, *, key: str = "data") -> bytes:
    """A document whose ``key`` list holds one integer of ``digits`` digits."""
    return b'{"%s": [' % key.encode() + b"9" * digits + b"]}"


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        reader = sock.makefile("rb")
        try:
            line = reader.readline(65537).decode("latin-1").strip()
            if not line:
                return
            method, target, _ = line.split(" ", 2)
            headers: dict[str, str] = {}
            while (header := reader.readline(65537).decode("latin-1").strip()) != "":
                name, _, value = header.partition(":")
                headers[name.strip()] = value.strip()
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            body = reader.read(length) if length else b""
        except (OSError, ValueError):
            return
        split = urlsplit(target)
        request = HostileRequest(
            method, split.path, parse_qs(split.query, keep_blank_values=True), headers, body
        )
        behaviour = self.server.owner.next_behaviour(request)
        host = request.host or f"127.0.0.1:{self.server.owner.port}"
        with contextlib.suppress(OSError):
            behaviour(Reply(sock, request, f"http://{host}", self.server.owner.port))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HostileFeedServer


class HostileFeedServer:
    """A scripted misbehaving HTTP server on 127.0.0.1 (a random port by default)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self.host = host
        self.port: int = self._server.server_address[1]
        self._lock = threading.Lock()
        self._scripts: dict[str, list[Behaviour]] = {}
        self._requests: list[HostileRequest] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def route(self, path: str, *behaviours: Behaviour) -> None:
        """Answer requests to ``path`` with ``behaviours`` in turn (the last one repeats)."""
        with self._lock:
            self._scripts[path] = list(behaviours)

    def next_behaviour(self, request: HostileRequest) -> Behaviour:
        with self._lock:
            self._requests.append(request)
            script = self._scripts.get(request.path)
            if not script:
                return json_body({"error": f"no route for {request.path}"}, status=404)
            return script.pop(0) if len(script) > 1 else script[0]

    def requests(self, path: str | None = None) -> list[HostileRequest]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._requests.clear()

    def connection_json(
        self, source: str, *, key: str | None = None, extra: Mapping[str, Any] | None = None
    ) -> str:
        """Airflow HTTP connection JSON for ``source`` pointing here (key defaults to ``TEST_KEYS``)."""
        return json.dumps(
            {
                "conn_type": "http",
                "host": self.host,
                "port": self.port,
                "schema": "http",
                "password": TEST_KEYS[source] if key is None else key,
                "extra": {"timeout": 5, **(extra or {})},
            }
        )

    def start(self) -> HostileFeedServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="hostile-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HostileFeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--blacklist", help="a JSON file served as the AbuseIPDB blacklist")
    args = parser.parse_args(argv)
    server = HostileFeedServer(port=args.port)
    if args.blacklist:
        server.route("/api/v2/blacklist", file_body(args.blacklist))
    server.route("/bomb", gzip_bomb())
    server.route("/drip", drip(b'{"data": []}'))
    server.route("/redirect", redirect("http://localhost:{port}/bomb"))
    server.route("/reset", reset_mid_body(b'{"data": [' + b" " * 100_000 + b"]}"))
    with server:
        print(f"hostile feed on {server.url}: /bomb /drip /redirect /reset /api/v2/blacklist", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
