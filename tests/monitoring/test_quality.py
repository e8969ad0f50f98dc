"""Data-quality alerts and the run summary: pure checks on batch metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from threatstream.monitoring.quality import quota_alert, reject_ratio_alert, zero_records_alert
from threatstream.monitoring.summary import RunSummary
from threatstream.records.results import FetchResult, UpsertResult, ValidateResult

FETCHED_AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _validated(records: int, rejected: int, unknown_tlp: int = 0) -> ValidateResult:
    return ValidateResult(
        source="urlhaus",
        run_id="r1",
        valid_uri="file:///tmp/valid.jsonl",
        quarantine_uri="file:///tmp/quarantine.jsonl",
        ingested_at=FETCHED_AT,
        records=records,
        valid=records - rejected - 1,
        rejected=rejected,
        expired=1,
        duplicates=0,
        reject_ratio=rejected / records if records else 0.0,
        reasons={"invalid_url": rejected} if rejected else {},
        unknown_tlp=unknown_tlp,
    )


def _fetched(records: int = 30, **metadata: Any) -> FetchResult:
    return FetchResult(
        source="abuseipdb",
        run_id="r1",
        data_interval_start=None,
        data_interval_end=None,
        prefix="file:///tmp/b",
        pages=[],
        bytes=100,
        records=records,
        sha256="0" * 64,
        fetched_at=FETCHED_AT,
        requests=1,
        duration_seconds=0.5,
        source_metadata=metadata,
    )


@pytest.mark.parametrize(
    ("rejected", "alerted"),
    [(0, False), (10, False), (11, True), (20, True), (21, False)],  # 100 records; warn 10 %, fail 20 %
)
def test_reject_ratio_warns_between_the_warning_and_the_fail_level(rejected: int, alerted: bool) -> None:
    alert = reject_ratio_alert(_validated(100, rejected), max_ratio=0.2, warn_ratio=0.1)
    assert (alert is not None) is alerted
    if alert:
        assert alert.event == "reject_ratio_high"
        assert "invalid_url: " in alert.details["reasons"]


def test_zero_records_alerts_only_when_the_feed_usually_returns_many() -> None:
    assert zero_records_alert("otx", "r", 0, [40, 38, 0, 41], min_usual=10) is not None
    assert zero_records_alert("otx", "r", 0, [0, 2, 1], min_usual=10) is None  # a quiet feed
    assert zero_records_alert("otx", "r", 0, [], min_usual=10) is None  # no history yet
    assert zero_records_alert("otx", "r", 5, [40, 38], min_usual=10) is None


def test_quota_alert_when_few_requests_are_left() -> None:
    low = quota_alert(_fetched(rate_limit_limit="5", rate_limit_remaining="1"), warn_fraction=0.2)
    assert low is not None
    assert low.event == "quota_low"
    assert "Only 1 requests left" in low.message
    assert quota_alert(_fetched(rate_limit_limit="5", rate_limit_remaining="4"), warn_fraction=0.2) is None
    assert quota_alert(_fetched(rate_limit_limit="1000", rate_limit_remaining="150"), 0.2) is not None
    assert quota_alert(_fetched(), warn_fraction=0.2) is None  # feeds without quota headers


def test_run_summary_counts_every_stage() -> None:
    upserted = UpsertResult(source="urlhaus", run_id="r1", attempted=8, written=8, request_charge=8.0)
    summary = RunSummary.of(
        _fetched(records=10),
        _validated(10, 1, unknown_tlp=2),
        upserted,
        now=FETCHED_AT + timedelta(seconds=12),
    )
    assert summary.counts() == {
        "fetched": 10,
        "valid": 8,
        "quarantined": 1,
        "expired": 1,
        "duplicates": 0,
        "unknown_tlp": 2,
        "written": 8,
        "failed": 0,
        "request_units": 8.0,
        "duration_seconds": 12.0,
        "dry_run": False,
    }
    assert summary.line().startswith("urlhaus: fetched 10, valid 8, quarantined 1")


def test_unknown_tlp_labels_reach_an_alert() -> None:
    from threatstream.monitoring.quality import unknown_tlp_alert

    assert unknown_tlp_alert(_validated(10, 1)) is None
    alert = unknown_tlp_alert(_validated(10, 1, unknown_tlp=3))
    assert alert is not None
    assert alert.event == "unknown_tlp"
    assert alert.details == {"unknown_tlp": 3, "valid": 8}
    assert "3 of 8 valid records" in alert.message


def test_record_history_outside_a_task_does_not_fail_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    """Without the task runner (a benchmark, a script) the Variable store is unreachable:
    the history is kept best-effort and validate goes on."""
    from threatstream.monitoring.quality import record_history

    with caplog.at_level("WARNING", logger="threatstream.monitoring.quality"):
        assert record_history("urlhaus", 30) == []
    assert "cannot keep the record-count history of urlhaus" in caplog.text
