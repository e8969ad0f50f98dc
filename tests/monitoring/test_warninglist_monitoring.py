"""The run summary and the data-quality alerts say how many indicators hit which warninglists."""

from __future__ import annotations

from datetime import UTC, datetime

from threatstream.monitoring.alerts import EVENTS
from threatstream.monitoring.quality import warninglist_alert
from threatstream.monitoring.summary import RunSummary, RunTiming
from threatstream.records.results import FetchResult, ValidateResult

AT = datetime(2026, 11, 28, 10, tzinfo=UTC)


def _validated(records: int, flagged: int, quarantined: int, hits: dict[str, int]) -> ValidateResult:
    return ValidateResult(
        source="otx",
        run_id="r1",
        valid_uri="file:///tmp/valid.jsonl",
        quarantine_uri="file:///tmp/quarantine.jsonl",
        ingested_at=AT,
        records=records,
        valid=records - quarantined,
        rejected=quarantined,
        expired=0,
        duplicates=0,
        reject_ratio=0.0,
        reasons={"warninglist": quarantined} if quarantined else {},
        warninglisted=flagged,
        warninglist_hits=hits,
    )


def test_the_run_summary_counts_indicators_per_list() -> None:
    fetched = FetchResult(
        source="otx",
        run_id="r1",
        data_interval_start=None,
        data_interval_end=AT,
        prefix="file:///tmp",
        pages=[],
        bytes=0,
        records=40,
        sha256="0" * 64,
        fetched_at=AT,
        requests=1,
        duration_seconds=0.5,
    )
    validated = _validated(40, 3, 0, {"cisco_top1000": 1, "google": 1, "public-dns-v4": 2})
    summary = RunSummary.of(fetched, validated, None, timing=RunTiming(1.0, 2.0))
    assert summary.counts()["warninglisted"] == 3
    assert summary.counts()["warninglist_hits"] == {"cisco_top1000": 1, "google": 1, "public-dns-v4": 2}
    assert "on warninglists 4 (cisco_top1000: 1, google: 1, public-dns-v4: 2)" in summary.line()
    quiet = RunSummary.of(fetched, _validated(40, 0, 0, {}), None, timing=RunTiming(1.0, 2.0))
    assert "warninglists" not in quiet.line()


def test_an_alert_names_the_lists_when_many_records_are_on_them() -> None:
    assert "warninglist_hits" in EVENTS
    assert warninglist_alert(_validated(100, 4, 0, {"public-dns-v4": 4}), warn_ratio=0.05) is None
    alert = warninglist_alert(
        _validated(100, 6, 2, {"public-dns-v4": 5, "google": 3, "cisco_top1000": 3}), warn_ratio=0.05
    )
    assert alert is not None
    assert alert.event == "warninglist_hits"
    assert alert.details == {
        "listed": 8,
        "records": 100,
        "flagged": 6,
        "quarantined": 2,
        "warn_warninglist_ratio": 0.05,
        "lists": "cisco_top1000: 3, google: 3, public-dns-v4: 5",
    }
    assert "8 of 100 records (8.0%) are on MISP warninglists" in alert.message
    assert warninglist_alert(_validated(0, 0, 0, {}), warn_ratio=0.0) is None


def test_the_default_warning_level_is_a_setting() -> None:
    assert warninglist_alert(_validated(100, 5, 0, {"google": 5})) is None  # 5 % is not above 5 %
    assert warninglist_alert(_validated(100, 6, 0, {"google": 6})) is not None
