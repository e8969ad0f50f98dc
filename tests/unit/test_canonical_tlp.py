"""TLP labels as feeds write them: mapped to TLP 2.0, unknown ones kept and counted, never fatal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from source_batches import validate_page

from threatstream.batches.storage import open_path, read_json_lines
from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.records.indicators import Observation
from threatstream.sources import get_source
from threatstream.sources.otx import parse_record

NOW = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("TLP:AMBER", TLP.AMBER),
        ("tlp:amber", TLP.AMBER),
        ("tlp amber", TLP.AMBER),
        ("TLP AMBER", TLP.AMBER),
        ("  Tlp :  Amber ", TLP.AMBER),
        ("amber", TLP.AMBER),
        ("WHITE", TLP.CLEAR),  # TLP 1.0
        ("tlp:white", TLP.CLEAR),
        ("TLP:CLEAR", TLP.CLEAR),
        ("clear", TLP.CLEAR),
        ("Green", TLP.GREEN),
        ("TLP-GREEN", TLP.GREEN),
        ("tlp_red", TLP.RED),
        ("red ", TLP.RED),
        ("AMBER+STRICT", TLP.AMBER_STRICT),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("amber + strict", TLP.AMBER_STRICT),
        ("Amber Strict", TLP.AMBER_STRICT),
        ("amber-strict", TLP.AMBER_STRICT),
        ("tlp: amber_strict", TLP.AMBER_STRICT),
        (TLP.RED, TLP.RED),
        # STIX 2.1 marking definitions: TLP 1.0 (STIX 2.1 specification) and TLP 2.0 (OASIS extension)
        ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP.CLEAR),
        ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", TLP.GREEN),
        ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLP.AMBER),
        ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP.RED),
        ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", TLP.CLEAR),
        ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", TLP.GREEN),
        ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", TLP.AMBER),
        ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", TLP.AMBER_STRICT),
        ("MARKING-DEFINITION--E828B379-4E03-4974-9AC4-E53A884C97C1", TLP.RED),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_known_spellings_map_to_tlp_2(label: object, expected: TLP | None) -> None:
    assert TLP.from_label(label) is expected
    assert TLP.parse(label) is expected


@pytest.mark.parametrize(
    "label",
    [
        "marking-definition--00000000-0000-4000-8000-000000000000",  # a private marking
        "purple",
        "yellow",
        "tlpamber",
        "TLP:",
        "amber+",
        "red+strict",
        "green strict",
        "tlp:ambre",
        3,
        ["red"],
    ],
)
def test_unknown_labels(label: object) -> None:
    with pytest.raises(ValueError, match="TLP label"):
        TLP.from_label(label)
    assert TLP.parse(label) is None


def test_observation_maps_the_label_as_written() -> None:
    observation = Observation(indicator_type=IndicatorType.IPV4, value="8.8.8.8", tlp="TLP:AMBER+STRICT")
    assert observation.tlp is TLP.AMBER_STRICT
    assert not observation.has_unknown_tlp
    assert "tlp_label" not in observation.raw_metadata


def test_unknown_label_does_not_reject_the_indicator() -> None:
    observation = Observation(
        indicator_type=IndicatorType.IPV4, value="8.8.8.8", tlp="Purple", raw_metadata={"pulse_id": "p"}
    )
    assert observation.tlp is None
    assert observation.has_unknown_tlp
    assert observation.raw_metadata == {"pulse_id": "p", "tlp_label": "Purple"}
    document = observation.to_document("otx", ingested_at=NOW, default_ttl=NOW - NOW)
    assert document["tlp"] is None
    assert document["raw_metadata"]["tlp_label"] == "Purple"


def test_absent_label_is_not_unknown() -> None:
    observation = Observation(indicator_type=IndicatorType.IPV4, value="8.8.8.8", tlp="")
    assert observation.tlp is None
    assert not observation.has_unknown_tlp


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
