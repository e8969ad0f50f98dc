"""``export``: the merged view's changes in a time window, as one STIX 2.1 bundle.

The bundle is streamed to a temporary name beside its final path and published only once it
is complete: a write that fails half-way (disk full, a dropped upload) never leaves a
truncated ``bundle.json`` where consumers read it. A merged document that cannot be mapped
to STIX is skipped, counted and reported with its reason; the rest is exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airflow.sdk import BaseOperator, Context, ObjectStoragePath

from threatstream.batches.storage import batch_prefix
from threatstream.compat import AirflowFailException
from threatstream.merged.stix import STIX_NAMESPACE, identity, tlp_marking, to_stix
from threatstream.naming import COSMOS_CONN_ID, STIX_EXPORT_FOLDER
from threatstream.parsing.timestamps import SORTABLE, format_utc, parse_timestamp
from threatstream.sources import scoring_policy

#: At most this many unmappable documents are reported by id and reason (all are counted).
MAX_REPORTED_UNMAPPABLE = 20
_REASON_CHARS = 200


class BundleWriter:
    """Writes a bundle to a temporary name beside ``path``; publishes it only when complete.

    On a local file system the temporary file is renamed onto ``path`` (atomic). On an
    object store, where a rename is a copy and a delete, the complete temporary object is
    copied server-side onto ``path``, so the final object is created whole by one copy and
    is never written to piece by piece. The temporary file or object is removed whatever
    happens. Bytes written are counted and hashed; the published size is checked against
    them before and after publishing.
    """

    def __init__(self, path: ObjectStoragePath) -> None:
        self.path = path
        self.bytes = 0
        self.sha256 = hashlib.sha256()
        self.partial: ObjectStoragePath | Path | None = None
        self._handle: IO[str] | None = None

    def __enter__(self) -> BundleWriter:
        name = f".{self.path.name}.{uuid.uuid4().hex}.part"
        local = _local_file(self.path)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            self.partial = local.with_name(name)
            descriptor = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            self._handle = os.fdopen(descriptor, "w", encoding="utf-8")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.partial = self.path.parent / name
            self._handle = self.partial.open("w", encoding="utf-8")  # type: ignore[no-untyped-call]
        return self

    def write(self, text: str) -> None:
        assert self._handle is not None, "use BundleWriter as a context manager"
        data = text.encode("utf-8")
        self._handle.write(text)
        self.bytes += len(data)
        self.sha256.update(data)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        handle, self._handle = self._handle, None
        partial = self.partial
        try:
            if handle is not None:
                if exc_type is None:
                    handle.close()  # a failure to flush the last block fails the export
                else:
                    with contextlib.suppress(Exception):
                        handle.close()
            if exc_type is None and partial is not None:
                self._publish(partial)
        finally:
            if isinstance(partial, Path):
                partial.unlink(missing_ok=True)
            elif partial is not None:
                # Through the file system that wrote it (the path's own may be another instance).
                with contextlib.suppress(FileNotFoundError):
                    partial.fs.rm_file(partial.path)

    def _publish(self, partial: ObjectStoragePath | Path) -> None:
        written = partial.stat().st_size if isinstance(partial, Path) else _object_size(partial)
        if written != self.bytes:
            raise OSError(f"{partial}: {written} bytes stored of the {self.bytes} written; not published")
        if isinstance(partial, Path):
            partial.replace(_local_file(self.path) or Path(self.path.path))
            return
        fs = partial.fs
        fs.copy(partial.path, self.path.path)
        published = _object_size(self.path)
        if published != self.bytes:
            raise OSError(f"{self.path}: {published} bytes published of the {self.bytes} written")


def _object_size(path: ObjectStoragePath) -> int:
    """Size of a stored object, asked of the file system that ``open`` uses."""
    return int(path.fs.size(path.path))


def _local_file(path: ObjectStoragePath) -> Path | None:
    """The local file ``path`` names, if it is on the local file system."""
    if getattr(path, "protocol", None) in ("file", "local"):
        return Path(path.path)
    return None


def _reason(error: Exception) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


def _as_time(value: str | datetime, name: str) -> datetime:
    try:
        parsed = parse_timestamp(value) if isinstance(value, str) else parse_timestamp(value.isoformat())
    except ValueError:
        parsed = None
    if parsed is None:
        raise AirflowFailException(f"{name} must be an ISO 8601 time, got {value!r}")
    return parsed


class StixExportOperator(BaseOperator):
    """Export the merged documents changed in ``[since, until)`` as a STIX 2.1 bundle.

    The bundle is streamed to ``<storage_base>/stix_export/<run id>/bundle.json``: one
    query page of merged documents at a time, one object written at a time, so memory stays
    flat however many indicators changed. It holds the ThreatStream ``identity``, one
    ``indicator`` (or ``vulnerability``) per exportable merged document and the TLP 2.0
    ``marking-definition`` objects they reference. It is written under a temporary name and
    published whole (:class:`BundleWriter`); a failed export leaves no ``bundle.json``.

    A merged document that cannot be mapped (a missing or malformed field) is left out and
    reported: ``unmappable`` counts them, ``unmappable_examples`` gives the first
    :data:`MAX_REPORTED_UNMAPPABLE` ids with their reasons, and a warning is logged.

    :param since: start of the window (ISO 8601, templated).
    :param until: end of the window, exclusive (ISO 8601, templated).
    :param azure_cosmos_conn_id: the store connection (templated).
    :param container_name: the merged container (templated; default ``[threatstream] merged_container``).
    :param storage_base: where bundles are written (templated; default ``[threatstream] storage_base``).
    :param storage_conn_id: connection for the storage base (templated; default
        ``[threatstream] storage_conn_id``).
    """

    template_fields: Sequence[str] = (
        "since",
        "until",
        "azure_cosmos_conn_id",
        "container_name",
        "storage_base",
        "storage_conn_id",
    )
    ui_color = "#f3eafb"

    def __init__(
        self,
        *,
        since: str | datetime,
        until: str | datetime,
        azure_cosmos_conn_id: str = COSMOS_CONN_ID,
        container_name: str | None = None,
        storage_base: str | None = None,
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.since = since
        self.until = until
        self.azure_cosmos_conn_id = azure_cosmos_conn_id
        self.container_name = container_name
        self.storage_base = storage_base
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        since, until = _as_time(self.since, "since"), _as_time(self.until, "until")
        if since >= until:
            raise AirflowFailException(f"since ({since}) must be before until ({until})")
        from threatstream.store.merged import MergedViewHook

        hook = MergedViewHook(
            self.azure_cosmos_conn_id, container_name=self.container_name, policy=scoring_policy()
        )
        path = batch_prefix(STIX_EXPORT_FOLDER, context["run_id"], self.storage_base, self.storage_conn_id)
        path = path / "bundle.json"
        started = time.monotonic()
        counts: Counter[str] = Counter()
        markings: set[str] = set()
        unmappable: list[dict[str, Any]] = []
        window = f"{format_utc(since, SORTABLE)}/{format_utc(until, SORTABLE)}"
        bundle_id = f"bundle--{uuid.uuid5(STIX_NAMESPACE, window)}"
        with BundleWriter(path) as out:
            out.write(f'{{"type": "bundle", "id": "{bundle_id}", "objects": [\n')
            out.write(json.dumps(identity()))
            for document in hook.changed_between(since, until):
                counts["documents"] += 1
                try:
                    stix_object = to_stix(document, until, hook.policy)
                    text = json.dumps(stix_object, ensure_ascii=False)
                except (KeyError, TypeError, ValueError, AttributeError) as err:
                    counts["unmappable"] += 1
                    if len(unmappable) < MAX_REPORTED_UNMAPPABLE:
                        unmappable.append({"id": str(document.get("id"))[:300], "reason": _reason(err)})
                    continue
                if stix_object is None:
                    counts[f"skipped:{document['indicator_type']}"] += 1
                    continue
                counts[stix_object["type"]] += 1
                if document.get("tlp"):
                    markings.add(str(document["tlp"]))
                out.write(",\n" + text)
            for label in sorted(markings):
                out.write(",\n" + json.dumps(tlp_marking(label)))
            out.write("\n]}\n")
        result = {
            "uri": str(path),
            "since": format_utc(since, SORTABLE),
            "until": format_utc(until, SORTABLE),
            "documents": counts.pop("documents", 0),
            "indicators": counts.pop("indicator", 0),
            "vulnerabilities": counts.pop("vulnerability", 0),
            "markings": len(markings),
            "unmappable": counts.pop("unmappable", 0),
            "unmappable_examples": unmappable,
            "skipped": {key.removeprefix("skipped:"): n for key, n in sorted(counts.items())},
            "bytes": out.bytes,
            "sha256": out.sha256.hexdigest(),
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        if result["unmappable"]:
            self.log.warning(
                "%d merged document(s) could not be mapped to STIX and were left out of the bundle "
                "(first %d: %s)",
                result["unmappable"],
                len(unmappable),
                json.dumps(unmappable),
            )
        self.log.info("STIX 2.1 bundle of %s..%s: %s", result["since"], result["until"], result)
        return result
