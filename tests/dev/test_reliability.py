"""The fault table renderer."""

from __future__ import annotations

import json
from pathlib import Path

from threatstream_dev.reliability import main, render


def test_rows_become_one_table_row_each_with_pipes_escaped(tmp_path: Path) -> None:
    rows = [
        {"test": "tests/faults/test_b.py::t2", "case": "store 429", "expected": "green", "result": "a|b"},
        {
            "test": "tests/faults/test_a.py::t1",
            "case": "redirect",
            "expected": "red",
            "result": "red on try 1",
        },
    ]
    source = tmp_path / "rows.json"
    source.write_text(json.dumps(rows), encoding="utf-8")
    target = tmp_path / "docs" / "reliability.md"
    assert main(["--input", str(source), "--output", str(target)]) == 0
    page = target.read_text(encoding="utf-8")
    assert page == render(rows)
    table = [line for line in page.splitlines() if line.startswith("| ")]
    assert table[0] == "| case | expected path | result | test |"
    assert table[1:] == [
        "| redirect | red | red on try 1 | `test_a.py::t1` |",
        "| store 429 | green | a\\|b | `test_b.py::t2` |",
    ]


def test_a_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    assert main(["--input", str(tmp_path / "none.json"), "--output", str(tmp_path / "out.md")]) == 1
    assert not (tmp_path / "out.md").exists()
