"""Retention of batch files on ``file://``: what is deleted, what is kept, and when."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from threatstream.batches.retention import (
    Batch,
    BatchFile,
    RetentionPolicy,
    apply_retention,
    modified_time,
    plan_deletions,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(retention_days=7, quarantine_retention_days=30)


def _write_batch(root: Path, source: str, run: str, age_days: float) -> Path:
    prefix = root / source / run
    (prefix / "raw").mkdir(parents=True)
    files = [prefix / "raw" / "page-00001.json", prefix / "valid.jsonl", prefix / "quarantine.jsonl"]
    stamp = (NOW - timedelta(days=age_days)).timestamp()
    for path in files:
        path.write_text("{}\n")
        os.utime(path, (stamp, stamp))
    return prefix


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_old_batches_lose_raw_and_valid_but_keep_quarantine_until_its_own_limit(tmp_path: Path) -> None:
    _write_batch(tmp_path, "urlhaus", "fresh", age_days=1)
    _write_batch(tmp_path, "urlhaus", "old", age_days=10)
    _write_batch(tmp_path, "otx", "ancient", age_days=40)
    (tmp_path / "merged").mkdir()  # not a source: never touched
    (tmp_path / "merged" / "view.jsonl").write_text("{}\n")
    os.utime(tmp_path / "merged" / "view.jsonl", (0, 0))

    report = apply_retention(ObjectStoragePath(tmp_path.as_uri()), ["urlhaus", "otx"], POLICY, now=NOW)

    assert _files(tmp_path) == {
        "urlhaus/fresh/raw/page-00001.json",
        "urlhaus/fresh/valid.jsonl",
        "urlhaus/fresh/quarantine.jsonl",
        "urlhaus/old/quarantine.jsonl",
        "merged/view.jsonl",
    }
    assert not (tmp_path / "otx" / "ancient").exists()
    assert not (tmp_path / "urlhaus" / "old" / "raw").exists()  # emptied folders go too
    assert report.batches_seen == 3
    assert report.batches_deleted == 1
    assert report.batches_trimmed == 1
    assert report.quarantine_files_kept == 1
    assert report.files_deleted == 5
    assert report.bytes_deleted == 15


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    _write_batch(tmp_path, "urlhaus", "ancient", age_days=40)
    before = _files(tmp_path)
    report = apply_retention(ObjectStoragePath(tmp_path.as_uri()), ["urlhaus"], POLICY, now=NOW, dry_run=True)
    assert report.batches_deleted == 1
    assert report.dry_run
    assert _files(tmp_path) == before


def test_a_rewritten_file_keeps_its_batch(tmp_path: Path) -> None:
    prefix = _write_batch(tmp_path, "otx", "rerun", age_days=40)
    os.utime(prefix / "valid.jsonl", (NOW.timestamp(), NOW.timestamp()))  # a rerun of that window
    report = apply_retention(ObjectStoragePath(tmp_path.as_uri()), ["otx"], POLICY, now=NOW)
    assert report.files_deleted == 0
    assert len(_files(tmp_path)) == 3


def test_missing_source_folders_are_fine(tmp_path: Path) -> None:
    report = apply_retention(ObjectStoragePath(tmp_path.as_uri()), ["abuseipdb"], POLICY, now=NOW)
    assert report.batches_seen == 0


def test_plan_is_pure_and_never_touches_young_batches() -> None:
    def batch(run: str, age: float, *names: str) -> Batch:
        when = NOW - timedelta(days=age)
        return Batch("s", run, f"b/s/{run}", tuple(BatchFile(f"b/s/{run}/{n}", 1, when) for n in names))

    deletions = list(
        plan_deletions(
            [
                batch("young", 6.9, "valid.jsonl", "quarantine.jsonl"),
                batch("no-quarantine", 8, "valid.jsonl"),
                batch("only-quarantine", 8, "quarantine.jsonl", "quarantine-store.jsonl"),
                batch("old", 31, "valid.jsonl", "quarantine.jsonl"),
            ],
            POLICY,
            NOW,
        )
    )
    assert [
        (d.batch.run, d.whole_prefix, [f.path.rsplit("/", 1)[1] for f in d.files]) for d in deletions
    ] == [
        ("no-quarantine", True, ["valid.jsonl"]),
        ("old", True, ["valid.jsonl", "quarantine.jsonl"]),
    ]


@pytest.mark.parametrize(
    ("retention", "quarantine"), [(0, 10), (-1, 10), (10, 5)], ids=["zero", "negative", "quarantine-shorter"]
)
def test_bad_policies_are_refused(retention: float, quarantine: float) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        RetentionPolicy(retention_days=retention, quarantine_retention_days=quarantine)


@pytest.mark.parametrize(
    "info",
    [
        {"mtime": NOW.timestamp()},  # local
        {"last_modified": NOW},  # adlfs
        {"LastModified": NOW.replace(tzinfo=None)},  # s3fs (naive means UTC)
        {"updated": "2026-12-01T12:00:00Z"},  # gcsfs
    ],
)
def test_modification_time_of_every_filesystem(info: dict[str, object]) -> None:
    assert modified_time(info) == NOW


def test_unknown_modification_time() -> None:
    assert modified_time({"size": 3}) is None
