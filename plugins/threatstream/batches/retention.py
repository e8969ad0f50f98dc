"""Retention of batch files: which run prefixes are past their age, and deleting them.

A batch lives under ``<storage_base>/<folder>/<run id>/``: a source's raw pages,
``valid.jsonl`` and ``quarantine*.jsonl``, or a STIX export's ``bundle.json``. A batch's
age is the time since its newest file was written, so a
rerun of an old window starts its clock again. Past ``retention_days`` everything but the
quarantine files is deleted; past ``quarantine_retention_days`` (at least as long) the
whole prefix goes. Only the folders the caller names are touched (the registered sources'
and the STIX export's), so nothing else stored under the same base is ever deleted.

Listing and deletion go through ``ObjectStoragePath`` and its fsspec filesystem (one
recursive listing per source), so the same code serves ``file://``, ``abfs://`` and ``s3://``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: File names (the last path segment) that hold quarantined records.
QUARANTINE_PREFIX = "quarantine"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long batch files are kept."""

    retention_days: float = 30
    quarantine_retention_days: float = 90

    def __post_init__(self) -> None:
        if self.retention_days <= 0:
            raise ValueError(f"retention_days must be positive, got {self.retention_days}")
        if self.quarantine_retention_days < self.retention_days:
            raise ValueError(
                f"quarantine_retention_days ({self.quarantine_retention_days}) must be at least "
                f"retention_days ({self.retention_days}): quarantine files are kept longer, never shorter"
            )


@dataclass(frozen=True)
class BatchFile:
    """One file of a batch: its filesystem path, size and last modification."""

    path: str
    size: int
    modified: datetime

    @property
    def is_quarantine(self) -> bool:
        return self.path.rsplit("/", 1)[-1].startswith(QUARANTINE_PREFIX)


@dataclass(frozen=True)
class Batch:
    """A run prefix of one source and the files under it."""

    source: str
    run: str
    path: str
    files: tuple[BatchFile, ...]

    @property
    def modified(self) -> datetime:
        return max(f.modified for f in self.files)


@dataclass(frozen=True)
class Deletion:
    """What to delete of one batch: the whole prefix, or some of its files."""

    batch: Batch
    files: tuple[BatchFile, ...]
    whole_prefix: bool


@dataclass
class RetentionReport:
    """What a retention pass found and deleted (or would delete, in a dry run)."""

    batches_seen: int = 0
    batches_deleted: int = 0
    batches_trimmed: int = 0
    files_deleted: int = 0
    bytes_deleted: int = 0
    quarantine_files_kept: int = 0
    dry_run: bool = False
    deleted_prefixes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches_seen": self.batches_seen,
            "batches_deleted": self.batches_deleted,
            "batches_trimmed": self.batches_trimmed,
            "files_deleted": self.files_deleted,
            "bytes_deleted": self.bytes_deleted,
            "quarantine_files_kept": self.quarantine_files_kept,
            "dry_run": self.dry_run,
            "deleted_prefixes": self.deleted_prefixes[:50],
        }


def plan_deletions(batches: Iterable[Batch], policy: RetentionPolicy, now: datetime) -> Iterator[Deletion]:
    """Pure: the deletions ``policy`` asks for at time ``now``."""
    keep_after = now - timedelta(days=policy.retention_days)
    keep_quarantine_after = now - timedelta(days=policy.quarantine_retention_days)
    for batch in batches:
        if not batch.files or batch.modified >= keep_after:
            continue
        if batch.modified < keep_quarantine_after:
            yield Deletion(batch, batch.files, whole_prefix=True)
            continue
        expired = tuple(f for f in batch.files if not f.is_quarantine)
        if expired:
            yield Deletion(batch, expired, whole_prefix=not any(f.is_quarantine for f in batch.files))


def modified_time(info: Mapping[str, Any]) -> datetime | None:
    """A file's last modification from an fsspec ``info`` entry (local, Azure, S3, GCS keys)."""
    for key in ("mtime", "last_modified", "LastModified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def list_batches(base: ObjectStoragePath, folders: Iterable[str]) -> Iterator[Batch]:
    """Every run prefix under ``<base>/<folder>/`` for the given folders, with its files."""
    fs = base.fs
    for source in folders:
        source_dir = base / source
        if not source_dir.exists():
            continue
        root = source_dir.path.rstrip("/")
        by_run: dict[str, list[BatchFile]] = {}
        for name, info in fs.find(root, detail=True).items():
            relative = name.rstrip("/")[len(root) :].lstrip("/")
            if info.get("type") != "file" or "/" not in relative:
                continue  # folders, and stray files that belong to no run
            run = relative.split("/", 1)[0]
            modified = modified_time(info)
            if modified is None:
                log.warning("Retention: no modification time for %s; kept", name)
                modified = datetime.max.replace(tzinfo=UTC)
            by_run.setdefault(run, []).append(BatchFile(name, int(info.get("size") or 0), modified))
        for run, files in sorted(by_run.items()):
            yield Batch(source=source, run=run, path=f"{root}/{run}", files=tuple(files))


def apply_retention(
    base: ObjectStoragePath,
    folders: Iterable[str],
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete what ``policy`` no longer keeps under ``base``; return what was done."""
    now = now or datetime.now(UTC)
    report = RetentionReport(dry_run=dry_run)
    batches = list(list_batches(base, folders))
    report.batches_seen = len(batches)
    fs = base.fs
    for deletion in plan_deletions(batches, policy, now):
        report.files_deleted += len(deletion.files)
        report.bytes_deleted += sum(f.size for f in deletion.files)
        if deletion.whole_prefix:
            report.batches_deleted += 1
            report.deleted_prefixes.append(deletion.batch.path)
        else:
            report.batches_trimmed += 1
            report.quarantine_files_kept += len(deletion.batch.files) - len(deletion.files)
        if dry_run:
            continue
        if deletion.whole_prefix:
            fs.rm(deletion.batch.path, recursive=True)
        else:
            fs.rm([f.path for f in deletion.files])
            _remove_empty_dirs(fs, deletion.batch.path)
    return report


def _remove_empty_dirs(fs: Any, prefix: str) -> None:
    """Drop folders left empty (local filesystems; object stores have none to drop)."""
    try:
        directories = [
            name
            for name, info in fs.find(prefix, withdirs=True, detail=True).items()
            if info["type"] == "directory"
        ]
    except FileNotFoundError:
        return
    for directory in sorted(directories, key=len, reverse=True):
        if directory.rstrip("/") != prefix.rstrip("/") and not fs.ls(directory):
            fs.rmdir(directory)
