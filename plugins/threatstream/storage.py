"""Where batches live between tasks: run-scoped prefixes under an ``ObjectStoragePath``.

Raw pages, validated indicators and quarantined records are files under
``<storage_base>/<source>/<run id>/``. The base defaults to ``file://$AIRFLOW_HOME/threatstream``
(fine when every task shares a disk, as with docker-compose or ``airflow standalone``) and is
set for shared object storage with the ``[threatstream] storage_base`` option, e.g.
``AIRFLOW__THREATSTREAM__STORAGE_BASE=abfs://threatstream@batches`` plus
``AIRFLOW__THREATSTREAM__STORAGE_CONN_ID`` naming the connection with its credentials.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airflow.sdk import ObjectStoragePath

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def default_storage_base() -> str:
    """The configured storage base, or ``file://`` under ``AIRFLOW_HOME``."""
    from airflow.configuration import conf

    configured = conf.get("threatstream", "storage_base", fallback="")
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home, "threatstream").resolve().as_uri()


def default_storage_conn_id() -> str | None:
    from airflow.configuration import conf

    return conf.get("threatstream", "storage_conn_id", fallback="") or None


def safe_segment(text: str) -> str:
    """A path segment safe on every object store (run ids contain ``:`` and ``+``)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def batch_prefix(
    source: str, run_id: str, base: str | None = None, conn_id: str | None = None
) -> ObjectStoragePath:
    """The run-scoped folder of one source's batch."""
    root = ObjectStoragePath(base or default_storage_base(), conn_id=conn_id or default_storage_conn_id())
    return root / safe_segment(source) / safe_segment(run_id)


def open_path(uri: str, conn_id: str | None = None) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for a URI recorded in batch metadata."""
    return ObjectStoragePath(uri, conn_id=conn_id or default_storage_conn_id())


class JsonLinesWriter:
    """Writes one JSON document per line to an object-storage file and counts them."""

    def __init__(self, path: ObjectStoragePath) -> None:
        self.path = path
        self.count = 0
        self._file: IO[str] | None = None

    def __enter__(self) -> JsonLinesWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8")  # type: ignore[no-untyped-call]
        return self

    def write(self, document: Any) -> None:
        assert self._file is not None, "use JsonLinesWriter as a context manager"
        self._file.write(json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str))
        self._file.write("\n")
        self.count += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_json_lines(path: ObjectStoragePath) -> Iterator[dict[str, Any]]:
    """Stream the documents of a JSON-lines file, one line at a time."""
    with path.open("r", encoding="utf-8") as handle:  # type: ignore[no-untyped-call]
        # readline, not iteration: Airflow 3.0's file wrapper does not forward __iter__.
        for line in iter(handle.readline, ""):
            if line.strip():
                yield json.loads(line)
