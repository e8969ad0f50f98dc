"""Start and stop Azurite, the Azure Storage emulator, for batches on ``abfs://``.

Azurite is the npm package ``azurite`` installed under ``dev/azurite`` (``npm ci``); only
its Blob service is started, in memory, on a random port of 127.0.0.1. It accepts the
well-known development account ``devstoreaccount1`` and its public key.

Typical use::

    with Azurite() as azurite:
        azurite.create_container("threatstream-batches")
        os.environ["AIRFLOW_CONN_THREATSTREAM_STORAGE"] = azurite.connection_json()

Manual use: ``python -m threatstream_dev.azurite`` (from ``dev/``) starts one in the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["ACCOUNT_KEY", "ACCOUNT_NAME", "AZURITE_DIR", "Azurite"]

#: Azurite's built-in development account and its well-known, public key.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

AZURITE_DIR = Path(__file__).resolve().parent.parent / "azurite"
_READY_LINE = re.compile(r"Blob service successfully listens on (?P<url>http://\S+)")
_STOP_TIMEOUT = 5.0


class Azurite:
    """Controls one ``azurite-blob`` process (in-memory storage, no telemetry)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, memory_limit_mb: int = 256) -> None:
        self.host = host
        self.port = port
        self.memory_limit_mb = memory_limit_mb
        self._url: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def blob_endpoint(self) -> str:
        """``http://127.0.0.1:<port>/devstoreaccount1`` (only after :meth:`start`)."""
        if self._url is None:
            raise RuntimeError("Azurite is not started")
        return f"{self._url}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def start(self, timeout: float = 30) -> Azurite:
        """Spawn Azurite and wait until its Blob service listens; return ``self``."""
        if self._url is not None:
            return self
        node = shutil.which("node")
        binary = AZURITE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
        if node is None or not binary.is_file():
            raise RuntimeError(f"Azurite needs Node.js and `npm ci --prefix {AZURITE_DIR}`")
        command = [node, str(binary), "--blobHost", self.host, "--blobPort", str(self.port)]
        command += ["--inMemoryPersistence", "--extentMemoryLimit", str(self.memory_limit_mb)]
        command += ["--disableTelemetry", "--skipApiVersionCheck", "--loose"]
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 (closed by stop)
        self._process = subprocess.Popen(
            command,
            cwd=AZURITE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while self._url is None:
            if self._process.poll() is not None or time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise RuntimeError(f"Azurite did not start within {timeout:g} s:\n{output}")
            match = _READY_LINE.search(self._output())
            if match:
                self._url = match["url"].rstrip("/")
            else:
                time.sleep(0.1)
        self.port = int(self._url.rsplit(":", 1)[1])
        return self

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-4000:]

    def stop(self) -> None:
        """Stop Azurite (SIGTERM, then SIGKILL); its in-memory data is gone."""
        process, self._process, self._url = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def create_container(self, name: str) -> None:
        """Create a blob container (no error if it exists)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string)
        with contextlib.suppress(ResourceExistsError):
            client.create_container(name)

    def connection_json(self) -> str:
        """An Airflow connection (JSON form) for ``abfs://`` paths on this Azurite."""
        return json.dumps({"conn_type": "wasb", "extra": {"connection_string": self.connection_string}})

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Azurite's Blob service in the foreground.")
    parser.add_argument("--port", type=int, default=10000)
    parser.add_argument("--container", default="threatstream-batches")
    args = parser.parse_args()
    with Azurite(port=args.port) as azurite:
        azurite.create_container(args.container)
        print(f"Azurite Blob service: {azurite.blob_endpoint}")
        print(f"AIRFLOW_CONN_THREATSTREAM_STORAGE='{azurite.connection_json()}'")
        print(f"AIRFLOW__THREATSTREAM__STORAGE_BASE=abfs://{args.container}/")
        assert azurite._process is not None
        with contextlib.suppress(KeyboardInterrupt):
            azurite._process.wait()


if __name__ == "__main__":
    main()
