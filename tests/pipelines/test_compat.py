"""What the compatibility run (``make test-compat``) proves on every supported Airflow version.

These tests also run in the normal suite (on the locked Airflow); ``make test-compat`` runs
them, with the DagBag integrity tests, in one virtualenv per target Airflow version.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from threatstream import compat
from threatstream_dev.runs import RunDag, StoredDocuments

pytestmark = pytest.mark.compat

SOURCES = ("urlhaus", "otx", "abuseipdb")
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.mark.dagrun
@pytest.mark.parametrize("source", SOURCES)
def test_each_source_runs_end_to_end(source: str, run_dag: RunDag, stored_documents: StoredDocuments) -> None:
    outcome = run_dag(f"threatstream_{source}", LOGICAL_DATE)
    assert outcome.succeeded, outcome
    documents = stored_documents()
    assert documents
    assert {d["source"] for d in documents} == {source}
    assert outcome.results["upsert"]["written"] == len(documents)
    assert outcome.results["validate"]["valid"] >= len(documents)


def test_features_follow_the_running_airflow() -> None:
    version = compat.airflow_version()
    assert version >= (3, 0)
    assert (version >= (3, 1)) == compat.HAS_DEADLINES
    assert (compat.DeadlineAlert is None) == (not compat.HAS_DEADLINES)
    # A multiplier since 3.2; before, True (which doubles) and never a float (refused at parse).
    assert (2.0 if version >= (3, 2) else True) == compat.DOUBLING_RETRY_BACKOFF
    assert isinstance(compat.DOUBLING_RETRY_BACKOFF, float if version >= (3, 2) else bool)


def test_missing_feature_is_noticed_once(caplog: pytest.LogCaptureFixture) -> None:
    compat.notice_missing.cache_clear()
    caplog.set_level(logging.WARNING, logger=compat.__name__)
    for _ in range(3):
        compat.notice_missing("Deadline Alerts", ">= 3.1")
    notices = [r.getMessage() for r in caplog.records if r.name == compat.__name__]
    assert len(notices) == 1
    assert "Deadline Alerts needs Airflow >= 3.1" in notices[0]
    assert compat.AIRFLOW_VERSION in notices[0]
