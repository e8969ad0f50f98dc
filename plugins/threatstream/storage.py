"""Where batches live between tasks: run-scoped prefixes under an ``ObjectStoragePath``.

Raw pages, validated indicators and quarantined records are files under
``<storage_base>/<source>/<run id>/``. The base defaults to ``file://$AIRFLOW_HOME/threatstream``
(fine when every task shares a disk, as with docker-compose or ``airflow standalone``) and is
set for shared object storage with the ``[threatstream] storage_base`` option, e.g.
``AIRFLOW__THREATSTREAM__STORAGE_BASE=abfs://threatstream@batches`` plus
``AIRFLOW__THREATSTREAM__STORAGE_CONN_ID`` naming the connection with its credentials.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airflow.sdk import ObjectStoragePath

from threatstream.documents import decode_line, encode_line

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_UPLOAD_CHUNK = 8 * 1024 * 1024
#: A batch file is written in blocks of this size (a third fewer CPU-seconds per line than 8 KiB).
_WRITE_BUFFER = 1024 * 1024
_READ_CHUNK = 1024 * 1024


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
    """Writes one JSON document per line and counts them; the file appears whole, on close.

    Lines go to a buffered file that becomes the object-storage path only when the block
    exits without an error (an aborted batch leaves no half-written file behind). On a local
    path that file sits beside the target and is renamed onto it; elsewhere it is a local
    temporary file copied up in a few large writes. Per-call writes through the
    object-storage file wrapper cost more than encoding the document.
    """

    def __init__(self, path: ObjectStoragePath) -> None:
        self.path = path
        self.count = 0
        self.bytes = 0
        self._buffer: IO[bytes] | None = None
        self._partial: Path | None = None  # the file being written beside a local target

    def __enter__(self) -> JsonLinesWriter:
        target = _local_file(self.path)
        if target is None:
            self._buffer = tempfile.TemporaryFile(
                prefix="threatstream-", suffix=".jsonl", buffering=_WRITE_BUFFER
            )
            return self
        target.parent.mkdir(parents=True, exist_ok=True)
        self._partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        # Created as the target would be (mode 0o666 less the umask), never over another file.
        descriptor = os.open(self._partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._buffer = os.fdopen(descriptor, "wb", buffering=_WRITE_BUFFER)
        return self

    def write(self, document: Any) -> None:
        """Append one document (encoded with :func:`~threatstream.documents.encode_line`)."""
        self.write_line(encode_line(document))

    def write_line(self, line: bytes) -> None:
        """Append one already encoded, newline-terminated JSON line."""
        assert self._buffer is not None, "use JsonLinesWriter as a context manager"
        self._buffer.write(line)
        self.count += 1
        self.bytes += len(line)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        buffer, self._buffer = self._buffer, None
        partial, self._partial = self._partial, None
        if buffer is None:
            return
        if partial is not None:
            try:
                buffer.close()
                if exc_type is None:
                    partial.replace(Path(self.path.path))
            finally:
                partial.unlink(missing_ok=True)
            return
        with buffer:
            if exc_type is None:
                buffer.seek(0)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("wb") as target:  # type: ignore[no-untyped-call]
                    shutil.copyfileobj(buffer, target, _UPLOAD_CHUNK)


def _local_file(path: ObjectStoragePath) -> Path | None:
    """The local file ``path`` names, if it is on the local file system."""
    if getattr(path, "protocol", None) in ("file", "local"):
        return Path(path.path)
    return None


def read_lines(path: ObjectStoragePath) -> Iterator[bytes]:
    """Stream the non-blank lines of a JSON-lines file, without their line ends.

    The file is read in blocks of ``_READ_CHUNK`` bytes; only one block and the lines it
    completes are held at a time. Large reads, not one ``readline`` per document: each call
    through the object-storage file wrapper has a cost of its own, and a reader that gives up
    the interpreter for every small read starves behind busy writer threads.
    """
    block = bytearray(_READ_CHUNK)
    with path.open("rb") as handle:  # type: ignore[no-untyped-call]
        tail = b""
        # readinto, not read: Airflow's file wrapper reports each `read` as a lineage input
        # (loading the plugins to do so); the batch files are intermediate and never were.
        while size := handle.readinto(block):
            lines = (tail + block[:size]).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if line.strip():
                    yield line
        if tail.strip():
            yield tail


def read_json_lines(path: ObjectStoragePath) -> Iterator[dict[str, Any]]:
    """Stream the documents of a JSON-lines file (:func:`read_lines`, decoded)."""
    for line in read_lines(path):
        yield decode_line(line)
