"""Declarative list feeds end to end: the example spec's DAG, and a bad spec failing the import."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments, load_dagbag

pytestmark = pytest.mark.dagrun

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
LISTS = Path(__file__).resolve().parents[2] / "include" / "feeds" / "lists"
DAG_ID = "threatstream_threatfox_csv"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 40, tzinfo=UTC)


def test_the_example_list_runs_end_to_end(
    run_dag: RunDag, stored_documents: StoredDocuments, feed_connections: FeedReplayServer
) -> None:
    outcome = run_dag(DAG_ID, LOGICAL_DATE)
    assert outcome.succeeded
    assert outcome.counts == {
        "records": 30,
        "requests": 1,
        "valid": 26,
        "rejected": 3,
        "duplicates": 1,
        "expired": 0,
        "reasons": {"malformed_row": 1, "non_global_ip": 1, "invalid_hash": 1},
        "written": 26,
    }
    (request,) = feed_connections.requests("threatfox_csv")
    assert request.path == "/export/csv/recent/"

    documents = {d["indicator_value"]: d for d in stored_documents()}
    mirai = documents["2a02:cf40:1::5"]
    assert mirai["id"].startswith("threatfox_csv:IPv6:")
    assert mirai["raw_metadata"]["port"] == "40669"
    assert mirai["ttl"] == 30 * 86400

    quarantine = (
        Path(outcome.results["validate"]["quarantine_uri"].removeprefix("file://")).read_text().splitlines()
    )
    malformed = next(json.loads(line) for line in quarantine if '"malformed_row"' in line)
    assert "14" in malformed["message"]
    assert "cdn-update-gateway.net" in malformed["record"]["text"]  # the raw line is kept


def test_a_bad_spec_fails_the_dag_file_import_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(LISTS / "threatfox_csv.json", tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"name": "broken", "format": "xml"}))
    monkeypatch.setenv("THREATSTREAM_LIST_SPECS", str(tmp_path))
    dagbag = load_dagbag(DAGS_FOLDER / "threatstream_lists.py")
    ((path, error),) = dagbag.import_errors.items()
    assert path.endswith("threatstream_lists.py")
    assert "broken.json is invalid" in error
    assert "format" in error
    assert "title" in error  # every problem is named at once


def test_an_empty_spec_directory_builds_no_list_dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATSTREAM_LIST_SPECS", str(tmp_path))
    dagbag = load_dagbag(DAGS_FOLDER / "threatstream_lists.py")
    assert (dagbag.import_errors, dagbag.dag_ids) == ({}, [])
