"""Start and stop the local Cosmos DB (NoSQL API) server used by tests and the demo.

The server is ``dev/cosmos-emulator/launcher.js``: the npm package ``@vercel/cosmosdb-server``
plus runtime fixes (keep-alive, 404s, partition-scoped and cross-partition queries,
transactional batch, TTL, 413, ``http://`` endpoint discovery, a reset endpoint).
It keeps data in memory only.

Typical use::

    with running_emulator() as emulator:
        client = CosmosClient(emulator.url, {"masterKey": emulator.key})

Manual use: ``python -m threatstream_dev.cosmos_emulator`` (from ``dev/``) starts one
in the foreground and prints its URL and an Airflow connection.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import ssl as ssl_module
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["EMULATOR_KEY", "EMULATOR_URL_ENV", "CosmosEmulator", "running_emulator"]

#: The well-known, public key of the Cosmos DB emulator (the local server ignores keys).
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

#: If set, :func:`running_emulator` reuses the server at this URL instead of starting one.
EMULATOR_URL_ENV = "THREATSTREAM_COSMOS_URL"

EMULATOR_DIR = Path(__file__).resolve().parent.parent / "cosmos-emulator"
LAUNCHER = EMULATOR_DIR / "launcher.js"

_READY_LINE = re.compile(r"Ready to accept HTTPS? connections at (?P<url>https?://\S+)")
_STOP_TIMEOUT = 5.0


class CosmosEmulator:
    """Controls one ``node launcher.js`` process (or wraps an already running server)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, ssl: bool = False) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.key = EMULATOR_KEY
        self._url: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    @classmethod
    def _attach(cls, url: str) -> CosmosEmulator:
        """Wrap a server somebody else runs: :meth:`stop` will not touch it."""
        emulator = cls(ssl=url.startswith("https:"))
        emulator._url = url.rstrip("/") + "/"
        return emulator

    @property
    def url(self) -> str:
        """Account endpoint, e.g. ``http://127.0.0.1:54321/`` (only after :meth:`start`)."""
        if self._url is None:
            raise RuntimeError("the Cosmos emulator is not started")
        return self._url

    @property
    def running(self) -> bool:
        """True while the server can be used (started and, if ours, still alive)."""
        if self._url is None:
            return False
        return self._process is None or self._process.poll() is None

    def start(self, timeout: float = 30) -> CosmosEmulator:
        """Spawn the server and wait for its ready line; return ``self``."""
        if self._url is not None:
            return self
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("`node` is not on PATH: the Cosmos emulator needs Node.js (20+)")
        if not (EMULATOR_DIR / "node_modules" / "@vercel" / "cosmosdb-server").is_dir():
            raise RuntimeError(
                f"{EMULATOR_DIR / 'node_modules'} is missing or incomplete: "
                "run `npm ci --prefix dev/cosmos-emulator`"
            )
        if not LAUNCHER.is_file():
            raise RuntimeError(f"{LAUNCHER} is missing")

        command = [node, str(LAUNCHER), "--port", str(self.port), "--host", self.host]
        command += ["--exit-on-stdin-close"] + ([] if self.ssl else ["--no-ssl"])
        # Lives as long as the process: read back for error messages, closed by stop().
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._process = subprocess.Popen(
            command,
            cwd=EMULATOR_DIR,
            stdin=subprocess.PIPE,  # closing it (or our death) stops the server
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        try:
            self._url = self._wait_until_ready(self._process, timeout)
        except BaseException:
            self.stop()
            raise
        self.port = int(self._url.rsplit(":", 1)[1].rstrip("/"))
        return self

    def _wait_until_ready(self, process: subprocess.Popen[str], timeout: float) -> str:
        """Read stdout on a thread (it keeps draining it) until the ready line appears."""
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream: IO[str]) -> None:
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(
            target=pump, args=(process.stdout,), name="cosmos-emulator-stdout", daemon=True
        ).start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"the Cosmos emulator did not start within {timeout:g} s{self._stderr_tail()}"
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                process.wait(_STOP_TIMEOUT)
                raise RuntimeError(
                    f"the Cosmos emulator exited with code {process.returncode}{self._stderr_tail()}"
                )
            match = _READY_LINE.search(line)
            if match:
                return match["url"].rstrip("/") + "/"

    def _stderr_tail(self, limit: int = 4000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()[-limit:].strip()
        return f"; stderr:\n{text}" if text else ""

    def stop(self) -> None:
        """Stop the server if this object started it (SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is not None:
            self._url = None
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(_STOP_TIMEOUT)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def wait(self) -> int:
        """Block until the server process exits; return its exit code."""
        if self._process is None:
            raise RuntimeError("this CosmosEmulator did not start a server process")
        return self._process.wait()

    def _request(self, method: str, path: str) -> dict[str, Any]:
        url = self.url + path.lstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"unexpected emulator URL {url!r}")
        context = None
        if url.startswith("https://"):  # the package's bundled self-signed certificate
            context = ssl_module.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl_module.CERT_NONE
        data = b"" if method == "POST" else None
        request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 (scheme checked)
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            body: dict[str, Any] = json.load(response)
        return body

    def reset(self) -> None:
        """Drop every database (test-only endpoint ``POST /_emulator/reset``)."""
        self._request("POST", "_emulator/reset")

    def health(self) -> dict[str, Any]:
        """``GET /_emulator/health``: status plus connection and request counters."""
        return self._request("GET", "_emulator/health")

    def connection_json(
        self, database_name: str = "threatstream", collection_name: str = "indicators"
    ) -> str:
        """Airflow connection (JSON form) for the Microsoft Azure provider's Cosmos hook."""
        return json.dumps(
            {
                "conn_type": "azure_cosmos",
                "login": self.url,
                "password": self.key,
                "extra": {"database_name": database_name, "collection_name": collection_name},
            }
        )

    def __enter__(self) -> CosmosEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"CosmosEmulator(url={self._url!r}, running={self.running})"


@contextlib.contextmanager
def _running_emulator() -> Iterator[CosmosEmulator]:
    external = os.environ.get(EMULATOR_URL_ENV)
    if external:
        yield CosmosEmulator._attach(external)
        return
    with CosmosEmulator() as emulator:
        yield emulator


def running_emulator() -> contextlib.AbstractContextManager[CosmosEmulator]:
    """Reuse the server at ``$THREATSTREAM_COSMOS_URL`` if set, else start one (stopped on exit)."""
    return _running_emulator()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Cosmos DB emulator in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port (default: 8081)")
    parser.add_argument("--ssl", action="store_true", help="serve HTTPS with the bundled self-signed cert")
    args = parser.parse_args(argv)
    with CosmosEmulator(host=args.host, port=args.port, ssl=args.ssl) as emulator:
        print(emulator.url, flush=True)
        print(f"AIRFLOW_CONN_AZURE_COSMOS_DEFAULT='{emulator.connection_json()}'", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            return emulator.wait()
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
