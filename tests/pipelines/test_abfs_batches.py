"""Batches on real object storage: ``abfs://`` against Azurite, end to end.

Every task reads what the previous one wrote to the blob container (fetch -> raw pages,
validate -> ``valid.jsonl`` / ``quarantine.jsonl``, upsert), and the maintenance DAG deletes
old prefixes there, with the same code that serves ``file://``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from threatstream.batches.storage import safe_segment
from threatstream_dev.azurite import Azurite
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.dagrun

LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _blobs(azurite: Azurite, container: str) -> set[str]:
    client = BlobServiceClient.from_connection_string(azurite.connection_string)
    return {blob.name for blob in client.get_container_client(container).list_blobs()}


@pytest.mark.parametrize("source", ["urlhaus", "otx"])
def test_batches_live_in_the_blob_container(
    source: str,
    run_dag: RunDag,
    stored_documents: StoredDocuments,
    abfs_storage: str,
    azurite: Azurite,
    airflow_db: Path,
) -> None:
    outcome = run_dag(f"threatstream_{source}", LOGICAL_DATE)

    assert outcome.succeeded
    prefix = f"{source}/{safe_segment(outcome.run_id)}/"
    blobs = _blobs(azurite, abfs_storage)
    pages = outcome.results["fetch"]["pages"]
    assert {f"{prefix}raw/page-{n:05d}.json" for n in range(1, len(pages) + 1)} <= blobs
    assert {f"{prefix}valid.jsonl", f"{prefix}quarantine.jsonl"} <= blobs
    for uri in [page["uri"] for page in pages] + [outcome.results["validate"]["valid_uri"]]:
        # abfs://<container>/... or, as ObjectStoragePath prints it, abfs://<conn_id>@<container>/...
        assert uri.startswith("abfs://")
        assert f"{abfs_storage}/{prefix}" in uri
    assert outcome.results["validate"]["storage_conn_id"] == "threatstream_storage"
    assert outcome.results["upsert"]["written"] == len(stored_documents()) > 0
    assert not (airflow_db / "batches" / source / safe_segment(outcome.run_id)).exists()


def test_retention_deletes_old_prefixes_in_the_blob_container(
    run_dag: RunDag, abfs_storage: str, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = run_dag("threatstream_urlhaus", LOGICAL_DATE)
    assert outcome.succeeded
    prefix = f"urlhaus/{safe_segment(outcome.run_id)}/"
    assert outcome.results["validate"]["rejected"] > 0

    # Blob times cannot be backdated: let the batch age past a retention of ~0.9 s instead.
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__RETENTION_DAYS", "0.00001")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__QUARANTINE_RETENTION_DAYS", "1")
    time.sleep(1.5)
    trimmed = run_dag("threatstream_maintenance", LOGICAL_DATE)
    assert trimmed.succeeded
    assert trimmed.results["apply_retention"]["batches_trimmed"] == 1
    assert {b for b in _blobs(azurite, abfs_storage) if b.startswith(prefix)} == {f"{prefix}quarantine.jsonl"}

    monkeypatch.setenv("AIRFLOW__THREATSTREAM__QUARANTINE_RETENTION_DAYS", "0.00001")
    deleted = run_dag("threatstream_maintenance", datetime(2026, 11, 29, 3, 30, tzinfo=UTC))
    assert deleted.succeeded
    assert deleted.results["apply_retention"]["batches_deleted"] == 1
    assert not {b for b in _blobs(azurite, abfs_storage) if b.startswith(prefix)}
