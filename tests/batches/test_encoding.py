"""Encoding batch files: the document size bound and quarantine entries that always encode."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from threatstream.batches.encoding import (
    MAX_ENTRY_DEPTH,
    TRIMMED_KEY,
    decode_line,
    encode_document,
    encode_entry,
)
from threatstream.canonical.errors import InvalidIndicator


def _document(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "urlhaus:URL:ab",
        "partition_key": "URL_ab",
        "indicator_value": "http://a.example/",
        "tags": ["x"],
        "raw_metadata": {"threat": "malware_download", "reporter": "someone"},
    }
    document.update(overrides)
    return document


def test_a_document_within_the_bound_is_one_untouched_json_line() -> None:
    document = _document(indicator_value="http://bücher.example/")
    line, trimmed = encode_document(document)
    assert not trimmed
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode_line(line) == document
    assert "bücher".encode() in line  # UTF-8, not \u escapes


def test_largest_raw_metadata_fields_are_dropped_first_and_named() -> None:
    metadata = {"big": "x" * 5000, "medium": "y" * 600, "small": "z"}
    line, trimmed = encode_document(_document(raw_metadata=metadata), max_bytes=1500)
    assert trimmed
    stored = decode_line(line)
    assert stored["raw_metadata"] == {"medium": "y" * 600, "small": "z", TRIMMED_KEY: ["big"]}
    assert len(line) <= 1500
    assert stored["indicator_value"] == "http://a.example/"


def test_a_document_too_large_without_raw_metadata_is_rejected_as_too_large() -> None:
    with pytest.raises(InvalidIndicator) as caught:
        encode_document(_document(tags=["t" * 100] * 50), max_bytes=1000)
    assert caught.value.reason == "too_large"


def test_raw_metadata_keys_that_are_not_strings_are_written_as_strings() -> None:
    line, trimmed = encode_document(_document(raw_metadata={7: "port", "when": datetime(2026, 1, 1)}))
    assert not trimmed
    assert decode_line(line)["raw_metadata"] == {"7": "port", "when": "2026-01-01T00:00:00Z"}


def test_a_document_with_a_lone_surrogate_is_rejected_not_raised() -> None:
    with pytest.raises(InvalidIndicator) as caught:
        encode_document(_document(raw_metadata={"reporter": "bad\ud800"}))
    assert caught.value.reason == "unencodable"


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("record", "check"),
    [
        ({"url": "http://a\ud800.example/"}, lambda r: r["url"] == "http://a\\ud800.example/"),
        ({"url": "nul\x00byte"}, lambda r: r["url"] == "nul\x00byte"),
        ({"id": 10**30}, lambda r: r["id"] == str(10**30)),
        ({"id": 10**20000}, lambda r: r["id"].startswith("<int of")),
        ({"\udcff": 1, 7: "int key"}, lambda r: r == {"\\udcff": 1, "7": "int key"}),
        ({"when": object()}, lambda r: r["when"].startswith("<object object")),
        ("not a mapping", lambda r: r == "not a mapping"),
        ({"deep": _nested(5000)}, lambda r: isinstance(json.dumps(r), str)),
    ],
    ids=["lone-surrogate", "nul", "big-int", "huge-int", "bad-keys", "object", "string", "deep"],
)
def test_quarantine_entries_always_encode(record: Any, check: Any) -> None:
    line = encode_entry({"reason": "r", "message": "m\ud800", "record": record})
    entry = decode_line(line)
    assert entry["message"] == "m\\ud800"
    assert check(entry["record"])


def test_deep_records_are_cut_at_the_depth_bound() -> None:
    entry = decode_line(encode_entry({"reason": "r", "record": _nested(200)}))
    depth, value = 0, entry["record"]
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == MAX_ENTRY_DEPTH
    assert isinstance(value, str)  # the rest, as cut text


def test_a_huge_record_is_cut_with_a_marker() -> None:
    record = {"blob": "x" * 200_000}
    entry = decode_line(encode_entry({"reason": "r", "record": record}, max_record_bytes=1000))
    assert entry["record_truncated"] is True
    assert entry["record_bytes"] == len(json.dumps(record, separators=(",", ":")))
    assert len(entry["record"]) <= 1000
    assert entry["record"].startswith('{"blob":"xxx')


def test_a_normal_record_is_kept_as_received() -> None:
    record = {"url": "http://x.example/", "tags": ["a", None], "n": 1.5}
    assert decode_line(encode_entry({"reason": "r", "record": record}))["record"] == record
