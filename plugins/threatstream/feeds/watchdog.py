"""Ending a request at its deadline, however slowly the server answers.

Per-read timeouts cannot stop a server that drips headers or body a byte at a time. A
session whose pools come from :func:`watch_session_sockets` records every socket it
connects while :func:`collecting_sockets` is active; a :class:`Watchdog` shuts those
sockets down when the request's time is up, which ends the blocked read.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import weakref
from collections.abc import Iterator

import requests
import urllib3
import urllib3.connection

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


def watch_session_sockets(session: requests.Session) -> None:
    """Make ``session``'s connection pools record their sockets for the watchdog."""
    for adapter in session.adapters.values():
        pools = getattr(adapter, "poolmanager", None)
        if pools is not None:
            pools.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


@contextlib.contextmanager
def collecting_sockets(sockets: weakref.WeakSet[socket.socket]) -> Iterator[None]:
    """Within the block, sockets connected by watched pools are added to ``sockets``."""
    token = _OPEN_SOCKETS.set(sockets)
    try:
        yield
    finally:
        _OPEN_SOCKETS.reset(token)


class Watchdog:
    """Shuts the hook's sockets down when a request outlives its deadline."""

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
        """Stop the timer: the request finished (or failed) in time."""
        self._timer.cancel()
