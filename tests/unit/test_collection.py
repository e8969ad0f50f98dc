"""The garbage collector's thresholds during bulk work."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from threatstream.collection import fewer_collections
from threatstream.models import FetchResult, Observation, StoredPage
from threatstream.operators.validate import ValidateIndicatorsOperator
from threatstream.sources import get_source
from threatstream.storage import open_path


def test_thresholds_are_relaxed_within_the_block_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        young, middle, oldest = gc.get_threshold()
        assert young >= 10_000
        assert middle == before[1]
        assert oldest >= 1_000_000
        with fewer_collections():  # nested work keeps them
            assert gc.get_threshold() == (young, middle, oldest)
        assert gc.get_threshold() == (young, middle, oldest)
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failing batch")
    assert gc.get_threshold() == before


def test_a_collector_switched_off_stays_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_validate_runs_with_the_thresholds_relaxed(tmp_path: Path) -> None:
    spec = get_source("abuseipdb")
    seen: list[tuple[int, int, int]] = []

    def parse_record(record: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
        seen.append(gc.get_threshold())
        return spec.parse_record(record, context)

    generated_at = "2026-05-30T10:00:00+00:00"
    body = json.dumps({"meta": {"generatedAt": generated_at}, "data": [{"ipAddress": "8.8.8.8"}]})
    page = tmp_path / "page.json"
    page.write_text(body)
    now = datetime(2026, 5, 30, 10, tzinfo=UTC)
    fetched = FetchResult(
        source="abuseipdb",
        run_id="manual",
        data_interval_start=now,
        data_interval_end=now,
        prefix=tmp_path.as_uri(),
        pages=[
            StoredPage(
                uri=page.as_uri(),
                bytes=len(body),
                records=1,
                sha256=hashlib.sha256(body.encode()).hexdigest(),
                context={"generated_at": generated_at},
            )
        ],
        bytes=len(body),
        records=1,
        sha256="0" * 64,
        fetched_at=now,
        requests=1,
        duration_seconds=0.0,
    )
    before = gc.get_threshold()
    result = ValidateIndicatorsOperator(task_id="validate", source="abuseipdb")._validate(
        dataclasses.replace(spec, parse_record=parse_record),
        fetched,
        open_path((tmp_path / "valid.jsonl").as_uri()),
        open_path((tmp_path / "quarantine.jsonl").as_uri()),
    )
    assert result.valid == 1
    assert seen[0][0] >= 10_000
    assert gc.get_threshold() == before
