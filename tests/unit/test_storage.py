"""Run-scoped batch locations and JSON-lines files."""

from __future__ import annotations

import os

from threatstream.storage import JsonLinesWriter, batch_prefix, read_json_lines, safe_segment


def test_run_ids_become_safe_path_segments() -> None:
    assert safe_segment("manual__2026-11-28T10:00:00+00:00") == "manual__2026-11-28T10_00_00_00_00"
    assert safe_segment("scheduled__a/b\\c?d#e") == "scheduled__a_b_c_d_e"
    assert safe_segment("::") == "_"


def test_batches_live_under_the_configured_base() -> None:
    prefix = batch_prefix("otx", "manual__2026-11-28T10:00:00+00:00")
    base = os.environ["AIRFLOW__THREATSTREAM__STORAGE_BASE"]
    assert str(prefix) == f"{base}/otx/manual__2026-11-28T10_00_00_00_00"
    explicit = batch_prefix("otx", "r1", base="file:///tmp/elsewhere")
    assert str(explicit) == "file:///tmp/elsewhere/otx/r1"


def test_json_lines_round_trip_keeps_unicode_and_counts() -> None:
    path = batch_prefix("unit", "json-lines") / "valid.jsonl"
    documents = [{"id": "a", "value": "http://bücher.example/"}, {"id": "b", "tags": ["x"]}]
    with JsonLinesWriter(path) as writer:
        for document in documents:
            writer.write(document)
    assert writer.count == 2
    assert list(read_json_lines(path)) == documents
    assert "bücher" in path.read_text(encoding="utf-8")
