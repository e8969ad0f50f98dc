"""Run-scoped batch locations and JSON-lines files."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from threatstream.batches.storage import JsonLinesWriter, batch_prefix, read_json_lines, safe_segment


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


def test_json_lines_are_read_in_blocks_whatever_the_block_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatstream.batches import storage

    path = batch_prefix("unit", "json-lines-blocks") / "valid.jsonl"
    documents = [{"id": f"d{i}", "value": "ü" * (i % 7), "n": i} for i in range(50)]
    lines = [json.dumps(d, ensure_ascii=False).encode() for d in documents]
    # blank lines in between and no newline after the last document
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines[:10]) + b"\n\n  \n" + b"\n".join(lines[10:]))
    for block in (1, 3, 17, 64, 1 << 20):
        monkeypatch.setattr(storage, "_READ_CHUNK", block)
        assert list(read_json_lines(path)) == documents, block


def test_json_lines_are_read_with_few_calls_on_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    path = batch_prefix("unit", "json-lines-calls") / "valid.jsonl"
    with JsonLinesWriter(path) as writer:
        for i in range(2000):
            writer.write({"id": f"d{i}", "pad": "x" * 100})
    calls = 0
    names: set[str] = set()
    real_open = type(path).open

    def counting_open(self: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)

        class Counting:
            def __getattr__(self, name: str) -> Any:
                attribute = getattr(handle, name)
                if not callable(attribute):
                    return attribute

                def counted(*args: Any, **kwargs: Any) -> Any:
                    nonlocal calls
                    calls += 1
                    names.add(name)
                    return attribute(*args, **kwargs)

                return counted

            def __enter__(self) -> Any:
                handle.__enter__()
                return self

            def __exit__(self, *exc: object) -> None:
                handle.__exit__(*exc)

        return Counting()

    monkeypatch.setattr(type(path), "open", counting_open)
    assert sum(1 for _ in read_json_lines(path)) == 2000
    assert calls < 10  # a few block reads, not one call per line
    assert "read" not in names  # what the file wrapper would report as a lineage input


def test_lines_are_streamed_without_line_ends_or_blank_lines() -> None:
    from threatstream.batches.storage import read_lines

    path = batch_prefix("unit", "lines") / "valid.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"id":"a"}\n\n{"id":"b"}\r\n  \n{"id":"c"}')
    assert [line.rstrip(b"\r") for line in read_lines(path)] == [b'{"id":"a"}', b'{"id":"b"}', b'{"id":"c"}']


def test_a_local_batch_file_appears_whole_on_close_or_not_at_all(tmp_path: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    folder = tmp_path / "batch"
    path = ObjectStoragePath(folder.as_uri()) / "valid.jsonl"
    with JsonLinesWriter(path) as writer:
        writer.write({"id": "first"})
        assert not (folder / "valid.jsonl").exists()  # written beside it, renamed on close
    assert list(read_json_lines(path)) == [{"id": "first"}]

    def aborted_batch() -> None:
        with JsonLinesWriter(path) as writer:
            writer.write({"id": "second"})
            raise RuntimeError("aborted")

    with pytest.raises(RuntimeError, match="aborted"):
        aborted_batch()
    assert list(read_json_lines(path)) == [{"id": "first"}]  # the earlier file, untouched
    assert [p.name for p in folder.iterdir()] == ["valid.jsonl"]  # nothing half-written left

    reference = folder / "reference"
    reference.write_bytes(b"")
    assert (folder / "valid.jsonl").stat().st_mode == reference.stat().st_mode  # as open() makes files
