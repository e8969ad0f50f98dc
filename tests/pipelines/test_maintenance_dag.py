"""The maintenance DAG end to end: retention under the configured storage base."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatstream_dev.runs import RunDag

pytestmark = pytest.mark.dagrun

DAG_ID = "threatstream_maintenance"
LOGICAL_DATE = datetime(2026, 11, 28, 3, 30, tzinfo=UTC)
DAY = 86_400


def _batch(root: Path, source: str, run: str, age_days: float) -> None:
    stamp = time.time() - age_days * DAY
    for name in ("raw/page-00001.json", "valid.jsonl", "quarantine.jsonl"):
        path = root / source / run / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
        os.utime(path, (stamp, stamp))


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.compat
def test_retention_run_deletes_old_batches_and_keeps_quarantine_longer(
    run_dag: RunDag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__STORAGE_BASE", tmp_path.as_uri())
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__RETENTION_DAYS", "14")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__QUARANTINE_RETENTION_DAYS", "60")
    _batch(tmp_path, "urlhaus", "recent", 2)
    _batch(tmp_path, "otx", "last_month", 30)
    _batch(tmp_path, "abuseipdb", "last_quarter", 90)

    outcome = run_dag(DAG_ID, LOGICAL_DATE)

    assert outcome.succeeded
    assert _files(tmp_path) == {
        "urlhaus/recent/raw/page-00001.json",
        "urlhaus/recent/valid.jsonl",
        "urlhaus/recent/quarantine.jsonl",
        "otx/last_month/quarantine.jsonl",
    }
    report = outcome.results["apply_retention"]
    assert report["batches_seen"] == 3
    assert report["batches_deleted"] == 1
    assert report["batches_trimmed"] == 1
    assert report["dry_run"] is False


def test_quarantine_kept_shorter_than_batches_is_refused_without_retries(
    run_dag: RunDag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__STORAGE_BASE", tmp_path.as_uri())
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__RETENTION_DAYS", "30")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__QUARANTINE_RETENTION_DAYS", "7")
    _batch(tmp_path, "otx", "old", 90)

    outcome = run_dag(DAG_ID, LOGICAL_DATE)

    assert outcome.state == "failed"
    assert outcome.tries["apply_retention"] == 1
    assert len(_files(tmp_path)) == 3
