"""OTX pulses with TLP labels of any spelling: unknown ones kept and counted, never fatal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from source_batches import validate_page
from threatstream.batches.storage import open_path, read_json_lines
from threatstream.canonical.vocabulary import TLP
from threatstream.sources import get_source
from threatstream.sources.otx import parse_record


def _otx_record(tlp: str, indicator: str) -> dict[str, Any]:
    return {
        "pulse": {"id": "pulse-1", "name": "test", "tlp": tlp, "created": "2026-11-28T10:00:00"},
        "indicator": {"id": 1, "type": "IPv4", "indicator": indicator, "created": "2026-11-28T10:00:00"},
    }


def test_otx_pulse_with_an_unknown_tlp_keeps_its_indicators() -> None:
    observation = parse_record(_otx_record("purple", "8.8.8.8"), {})
    assert observation.tlp is None
    assert observation.raw_metadata["tlp_label"] == "purple"
    assert parse_record(_otx_record("TLP:Amber", "8.8.8.8"), {}).tlp is TLP.AMBER


def test_validate_counts_unknown_tlp_labels(tmp_path: Path) -> None:
    records = [
        _otx_record("purple", "8.8.8.8"),
        _otx_record("TLP:RED", "1.1.1.1"),
        _otx_record("secret", "9.9.9.9"),
        _otx_record("purple", "10.0.0.1"),  # rejected: counted as a reason, not as unknown_tlp
    ]
    pulses = [{**r["pulse"], "indicators": [r["indicator"]]} for r in records]
    body = json.dumps({"results": pulses, "next": None}).encode()
    result = validate_page(get_source("otx"), tmp_path, body, kind="pulses", records=len(records))
    assert (result.valid, result.rejected, result.unknown_tlp) == (3, 1, 2)
    assert result.reasons == {"non_global_ip": 1}
    stored = {
        d["indicator_value"]: d for d in read_json_lines(open_path((tmp_path / "valid.jsonl").as_uri()))
    }
    assert stored["8.8.8.8"]["tlp"] is None
    assert stored["8.8.8.8"]["raw_metadata"]["tlp_label"] == "purple"
    assert stored["1.1.1.1"]["tlp"] == "red"
