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
import posixpath
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

from airflow.sdk import ObjectStoragePath

from threatstream.batches.encoding import decode_line, encode_line
from threatstream.exceptions import BatchFormatError, StoragePathError
from threatstream.settings import settings

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_UPLOAD_CHUNK = 8 * 1024 * 1024
#: A batch file is written in blocks of this size (a third fewer CPU-seconds per line than 8 KiB).
_WRITE_BUFFER = 1024 * 1024
_READ_CHUNK = 1024 * 1024
#: Longest line a batch file may hold: a document is at most 2 MB in Cosmos DB, a
#: quarantined record carries at most 64 KB of raw input.
MAX_LINE_BYTES = 4 * 1024 * 1024
#: The protocols fsspec names the local file system by.
_LOCAL = frozenset({"file", "local"})


def default_storage_base() -> str:
    """The configured storage base, or ``file://`` under ``AIRFLOW_HOME``."""
    configured = settings().storage_base
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home, "threatstream").resolve().as_uri()


def default_storage_conn_id() -> str | None:
    return settings().storage_conn_id or None


def safe_segment(text: str) -> str:
    """A path segment safe on every object store (run ids contain ``:`` and ``+``)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def batch_prefix(
    source: str, run_id: str, base: str | None = None, conn_id: str | None = None
) -> ObjectStoragePath:
    """The run-scoped folder of one source's batch."""
    root = ObjectStoragePath(base or default_storage_base(), conn_id=conn_id or default_storage_conn_id())
    return root / safe_segment(source) / safe_segment(run_id)


def open_path(
    uri: str, conn_id: str | None = None, *, base: str | None = None, base_conn_id: str | None = None
) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for a URI recorded in batch metadata, confined to the storage base.

    Batch URIs arrive from XCom, asset events and run params, which users and other systems
    can write. Only a place strictly under ``base`` (default: the configured storage base),
    on the same protocol, connection and bucket, may be opened: ``..`` is normalised away
    and, on a local disk, symlinks are resolved before the check. Anything else raises
    :class:`StoragePathError` (no retry) before it is opened.

    :param uri: the recorded URI.
    :param conn_id: the connection recorded with it; it must be the base's own.
    :param base: the storage base (default ``[threatstream] storage_base``).
    :param base_conn_id: the base's connection (default ``[threatstream] storage_conn_id``).
    """
    root_conn_id = base_conn_id or default_storage_conn_id()
    root = ObjectStoragePath(base or default_storage_base(), conn_id=root_conn_id)
    shown = _shown(uri)
    try:
        # A connection may also be named in the URI itself (``abfs://<conn_id>@<bucket>/...``).
        path_conn_id = urlsplit(uri).username or conn_id or root_conn_id
        path = ObjectStoragePath(uri, conn_id=conn_id or root_conn_id)
    except Exception as err:  # any unparsable URI is refused the same way
        raise StoragePathError(f"Batch URI {shown} cannot be parsed ({type(err).__name__})") from None
    protocol, root_protocol = _protocol(path), _protocol(root)
    if (protocol, path_conn_id) != (root_protocol, root_conn_id):
        raise StoragePathError(
            f"Batch URI {shown} is outside the storage base {_shown(str(root))}: "
            f"protocol or connection differs; only batches under the storage base are read."
        )
    if protocol == "file":
        inside = os.path.realpath(path.path)
        top = os.path.realpath(root.path)
        confined = ObjectStoragePath(Path(inside).as_uri())
    else:
        inside = posixpath.normpath("/" + path.path).lstrip("/")
        top = posixpath.normpath("/" + root.path).lstrip("/")
        confined = ObjectStoragePath(f"{path.protocol}://{inside}", conn_id=root_conn_id)
    if not inside.startswith(top.rstrip("/") + "/"):
        raise StoragePathError(
            f"Batch URI {shown} is outside the storage base {_shown(str(root))}; "
            "only batches under the storage base are read."
        )
    return confined


def _protocol(path: ObjectStoragePath) -> str:
    protocol = str(getattr(path, "protocol", "") or "file")
    return "file" if protocol in _LOCAL else protocol


def _shown(uri: str, limit: int = 200) -> str:
    """A URI fit for an error message: no query string (it may hold a SAS token), bounded."""
    text = uri.split("?", 1)[0].split("#", 1)[0]
    return repr(text if len(text) <= limit else text[:limit] + "...")


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
        """Append one document (encoded with :func:`~threatstream.batches.encoding.encode_line`)."""
        self.write_line(encode_line(document))

    def write_line(self, line: bytes) -> None:
        """Append one already encoded, newline-terminated JSON line."""
        assert self._buffer is not None, "use JsonLinesWriter as a context manager"
        self._buffer.write(line)
        self.count += 1

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


def read_lines(path: ObjectStoragePath, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Stream the non-blank lines of a JSON-lines file, without their line ends.

    The file is read in blocks of ``_READ_CHUNK`` bytes; only one block and the lines it
    completes are held at a time. Large reads, not one ``readline`` per document: each call
    through the object-storage file wrapper has a cost of its own, and a reader that gives up
    the interpreter for every small read starves behind busy writer threads. A line longer
    than ``max_line_bytes`` (a file that is not a batch, e.g. one that never ends) raises
    :class:`BatchFormatError`.
    """
    block = bytearray(_READ_CHUNK)
    with path.open("rb") as handle:  # type: ignore[no-untyped-call]
        tail = b""
        # readinto, not read: Airflow's file wrapper reports each `read` as a lineage input
        # (loading the plugins to do so); the batch files are intermediate and never were.
        while size := handle.readinto(block):
            lines = (tail + block[:size]).split(b"\n")
            tail = lines.pop()
            if len(tail) > max_line_bytes:
                raise BatchFormatError(
                    f"{_shown(str(path))} has a line longer than {max_line_bytes} bytes: not a batch file"
                )
            for line in lines:
                if line.strip():
                    yield line
        if tail.strip():
            yield tail


def read_json_lines(path: ObjectStoragePath) -> Iterator[dict[str, Any]]:
    """Stream the documents of a JSON-lines file (:func:`read_lines`, decoded)."""
    for line in read_lines(path):
        yield decode_line(line)
