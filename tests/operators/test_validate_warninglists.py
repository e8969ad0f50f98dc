"""``validate`` checks every canonical indicator against the MISP warninglists: flag or quarantine."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from airflow.sdk import ObjectStoragePath

from threatstream.operators.validate import ValidateIndicatorsOperator
from threatstream.records.indicators import Indicator
from threatstream.records.results import FetchResult, ValidateResult
from threatstream.rules.warninglists import (
    DEFAULT_WARNINGLISTS,
    WarninglistConfigError,
    Warninglists,
    load,
    parse_policy,
)
from threatstream.sources import get_source
from threatstream_dev.bench import otx_indicator, otx_pulse

NOW = datetime(2026, 5, 30, 10, tzinfo=UTC)
VALUES = [
    ("IPv4", "8.8.8.8"),
    ("IPv4", "1.1.1.1"),
    ("domain", "Google.com"),
    ("IPv4", "8.8.8.9"),
    ("hostname", "update-check.microsoft.com"),
    ("IPv4", "94.156.8.244"),
    ("IPv4", "8.8.8.8"),  # a duplicate: counted once, as a duplicate
]


def _fetched(folder: Path) -> FetchResult:
    indicators = [otx_indicator(1000 + i, kind, value) for i, (kind, value) in enumerate(VALUES)]
    body = json.dumps({"results": [otx_pulse(1, 1, indicators)], "count": 1, "next": None}).encode()
    page = folder / "page-00001.json"
    page.write_bytes(body)
    return FetchResult.model_validate(
        {
            "source": "otx",
            "run_id": "test",
            "data_interval_start": NOW,
            "data_interval_end": NOW,
            "prefix": folder.as_uri(),
            "pages": [
                {
                    "uri": page.as_uri(),
                    "kind": "pulses",
                    "bytes": len(body),
                    "records": len(VALUES),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }
            ],
            "bytes": len(body),
            "records": len(VALUES),
            "sha256": "0" * 64,
            "fetched_at": NOW,
            "requests": 1,
            "duration_seconds": 0.0,
        }
    )


def _run(
    tmp_path: Path, lists: Warninglists
) -> tuple[ValidateResult, list[dict[str, Any]], list[dict[str, Any]]]:
    operator = ValidateIndicatorsOperator(task_id="validate", source="otx")
    valid, quarantine = tmp_path / "valid.jsonl", tmp_path / "quarantine.jsonl"
    result = operator._validate(
        get_source("otx"),
        _fetched(tmp_path),
        ObjectStoragePath(valid.as_uri()),
        ObjectStoragePath(quarantine.as_uri()),
        lists=lists,
    )
    read = [json.loads(line) for line in valid.read_text().splitlines()]
    rejected = [json.loads(line) for line in quarantine.read_text().splitlines()]
    return result, read, rejected


@pytest.fixture(scope="module")
def default_lists() -> Warninglists:
    return load(DEFAULT_WARNINGLISTS)


def test_values_on_a_warninglist_are_flagged_by_default(tmp_path: Path, default_lists: Warninglists) -> None:
    result, documents, rejected = _run(tmp_path, default_lists)
    assert (result.records, result.valid, result.rejected, result.duplicates) == (7, 6, 0, 1)
    assert result.warninglisted == 3
    assert result.warninglist_hits == {"cisco_top1000": 1, "google": 1, "public-dns-v4": 2}
    assert rejected == []
    flagged = {d["indicator_value"]: d["warninglists"] for d in documents if "warninglists" in d}
    assert flagged == {
        "8.8.8.8": ["public-dns-v4"],
        "1.1.1.1": ["public-dns-v4"],
        "google.com": ["cisco_top1000", "google"],
    }
    for document in documents:  # the stored schema holds the field
        assert Indicator.model_validate(document).to_document() == document


def test_a_quarantine_policy_quarantines_instead(tmp_path: Path) -> None:
    lists = load(DEFAULT_WARNINGLISTS, parse_policy({"false_positive": "quarantine", "google": "flag"}))
    result, documents, rejected = _run(tmp_path, lists)
    assert (result.valid, result.rejected, result.duplicates) == (3, 3, 1)
    assert result.reasons == {"warninglist": 3}
    assert result.reject_ratio == 0.0  # a policy decision, not a record the feed got wrong
    assert result.warninglisted == 0
    by_value = {entry["record"]["indicator"]["indicator"]: entry for entry in rejected}
    assert set(by_value) == {"8.8.8.8", "1.1.1.1", "Google.com"}
    assert by_value["8.8.8.8"]["warninglists"] == ["public-dns-v4"]
    # google.com is on google (flag) and cisco_top1000 (quarantine): the quarantining list is named.
    assert by_value["Google.com"]["warninglists"] == ["cisco_top1000"]
    for entry in rejected:
        assert entry["reason"] == "warninglist"
        assert entry["source"] == "otx"
        assert "is on the MISP warninglist(s)" in entry["message"]
    assert {d["indicator_value"] for d in documents} == {
        "8.8.8.9",
        "update-check.microsoft.com",
        "94.156.8.244",
    }


def test_no_lists_no_flags(tmp_path: Path) -> None:
    result, documents, _ = _run(tmp_path, load(()))
    assert (result.valid, result.warninglisted, result.warninglist_hits) == (6, 0, {})
    assert not any("warninglists" in d for d in documents)


def test_an_unknown_list_name_fails_validate_before_it_reads_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__WARNINGLISTS", "default,public-dns-v5")

    class _TI:
        def xcom_pull(self, task_ids: str) -> Any:
            raise AssertionError("validate read its batch despite a bad warninglists setting")

    operator = ValidateIndicatorsOperator(task_id="validate", source="otx")
    with pytest.raises(WarninglistConfigError, match="no warninglist named 'public-dns-v5'"):
        operator.execute(cast(Any, {"ti": _TI()}))
