"""The garbage collector's thresholds during bulk work."""

from __future__ import annotations

import dataclasses
import gc
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from source_batches import validate_page
from threatstream.batches.collection import fewer_collections
from threatstream.records.indicators import Observation
from threatstream.sources import get_source


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
    before = gc.get_threshold()
    relaxed = dataclasses.replace(spec, parse_record=parse_record)
    result = validate_page(relaxed, tmp_path, body.encode(), records=1, generated_at=generated_at)
    assert result.valid == 1
    assert seen[0][0] >= 10_000
    assert gc.get_threshold() == before
