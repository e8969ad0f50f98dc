"""Data-quality alerts and the run summary: pure checks on batch metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from threatstream.monitoring.quality import quota_alert, reject_ratio_alert, zero_records_alert
from threatstream.monitoring.summary import RunSummary, RunTiming
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
    # The feed said nothing changed since the last run (an unchanged MISP manifest).
    assert zero_records_alert("misp_circl", "r", 0, [40, 38, 41], min_usual=10, up_to_date=True) is None


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
        "work_seconds": 0.5,  # outside a task: fetch's and upsert's own durations
        "wall_seconds": 12.0,
        "clear_number": 0,
        "dry_run": False,
        "warninglisted": 0,
        "warninglist_hits": {},
    }
    assert summary.line().startswith("urlhaus: fetched 10, valid 8, quarantined 1")
    assert summary.line().endswith("0.5s of work in 12.0s")


class _TI:
    """The running ``upsert`` try, as the Task SDK gives it (breadcrumbs: the finished tasks)."""

    dag_id, run_id, task_id = "threatstream_urlhaus", "manual__1", "upsert"

    def __init__(self, start_date: datetime, durations: dict[str, float | None]) -> None:
        self.start_date = start_date
        self.durations = durations

    def get_task_breadcrumbs(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        assert (dag_id, run_id) == (self.dag_id, self.run_id)
        return [{"task_id": task, "state": "success", "duration": d} for task, d in self.durations.items()]


class _DagRun:
    def __init__(self, start_date: datetime, clear_number: int = 0) -> None:
        self.start_date, self.clear_number = start_date, clear_number


def test_a_cleared_runs_summary_counts_its_work_not_the_idle_time() -> None:
    """The issue: upsert cleared 11 minutes after the first attempt reported 696 s for seconds of work.

    Now: work is the tasks' durations (fetch 2 s and validate 1.5 s reused, upsert's own try
    3 s); the wall time runs from the rerun's start (Airflow resets the run's start_date on a
    clear), not from the first fetch.
    """
    now = FETCHED_AT + timedelta(seconds=696)
    context = {
        "ti": _TI(now - timedelta(seconds=3), {"fetch": 2.0, "validate": 1.5}),
        "dag_run": _DagRun(now - timedelta(seconds=4), clear_number=1),
    }
    timing = RunTiming.current(_fetched(), None, now=now, context=context)
    assert timing == RunTiming(work_seconds=6.5, wall_seconds=4.0, clear_number=1)
    summary = RunSummary.of(_fetched(), _validated(10, 1), None, now=now, timing=timing)
    assert (summary.work_seconds, summary.wall_seconds, summary.clear_number) == (6.5, 4.0, 1)


def test_a_first_runs_wall_time_includes_the_waits_its_work_time_does_not() -> None:
    start = FETCHED_AT
    now = start + timedelta(seconds=90)  # fetch waited 60 s for a retry
    context = {
        "ti": _TI(now - timedelta(seconds=5), {"fetch": 20.0, "validate": 4.0}),
        "dag_run": _DagRun(start),
    }
    assert RunTiming.current(_fetched(), None, now=now, context=context) == RunTiming(29.0, 90.0, 0)


def test_without_breadcrumbs_fetchs_own_time_stands_in() -> None:
    """Airflow < 3.2 has no task breadcrumbs: fetch's recorded duration and upsert's own try."""
    now = FETCHED_AT + timedelta(seconds=30)

    class OldTI(_TI):
        def get_task_breadcrumbs(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
            raise AttributeError("get_task_breadcrumbs")

    context = {"ti": OldTI(now - timedelta(seconds=2), {}), "dag_run": _DagRun(FETCHED_AT)}
    assert RunTiming.current(_fetched(), None, now=now, context=context) == RunTiming(2.5, 30.0, 0)


def test_unknown_tlp_labels_reach_an_alert() -> None:
    from threatstream.monitoring.quality import unknown_tlp_alert

    assert unknown_tlp_alert(_validated(10, 1)) is None
    alert = unknown_tlp_alert(_validated(10, 1, unknown_tlp=3))
    assert alert is not None
    assert alert.event == "unknown_tlp"
    assert alert.details == {"unknown_tlp": 3, "valid": 8, "threshold": "any (more than 0)"}
    assert "3 of 8 valid records" in alert.message


def test_record_history_outside_a_task_does_not_fail_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    """Without the task runner (a benchmark, a script) the Variable store is unreachable:
    the history is kept best-effort and validate goes on."""
    from threatstream.monitoring.quality import record_history

    with caplog.at_level("WARNING", logger="threatstream.monitoring.quality"):
        assert record_history("urlhaus", 30) == []
    assert "cannot keep the record-count history of urlhaus" in caplog.text


def test_data_quality_alerts_carry_the_numbers_and_the_threshold_they_crossed() -> None:
    rejected = reject_ratio_alert(_validated(100, 15), max_ratio=0.2, warn_ratio=0.1)
    assert rejected is not None
    assert {k: rejected.details[k] for k in ("rejected", "records", "reject_ratio")} == {
        "rejected": 15,
        "records": 100,
        "reject_ratio": 0.15,
    }
    assert (rejected.details["warn_reject_ratio"], rejected.details["max_reject_ratio"]) == (0.1, 0.2)
    assert "15 of 100 records quarantined (15.0%), above the warning level 10.0%" in rejected.message

    zero = zero_records_alert("otx", "r", 0, [40, 38, 0, 41], min_usual=10)
    assert zero is not None
    assert zero.details == {
        "records": 0,
        "recent_median": 39.0,
        "zero_records_min_usual": 10,
        "recent_counts": [40, 38, 0, 41],
    }

    quota = quota_alert(_fetched(rate_limit_limit="1000", rate_limit_remaining="150"), 0.2)
    assert quota is not None
    assert quota.details == {
        "rate_limit_remaining": 150,
        "rate_limit_limit": 1000,
        "threshold": "<= 200 (20% of 1000)",
    }
