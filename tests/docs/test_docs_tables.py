"""Tables in the docs that restate the registry are checked against it."""

from __future__ import annotations

import re
from pathlib import Path

from threatstream.merged.scoring import ScoringPolicy
from threatstream.sources import all_sources

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table(text: str, name: str) -> list[list[str]]:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"no {name} block"
    rows = [line.strip("|").split("|") for line in match.group(1).strip().splitlines()[2:]]
    return [[cell.strip() for cell in row] for row in rows]


def test_the_scoring_table_is_the_registry() -> None:
    rows = _table((DOCS / "merged-view.md").read_text(encoding="utf-8"), "scoring-table")
    fallback = ScoringPolicy()
    expected = [[spec.name, f"{spec.weight:g}", str(spec.default_confidence)] for spec in all_sources()]
    expected.append(["any other", f"{fallback.fallback_weight:g}", str(fallback.fallback_confidence)])
    assert [[name, f"{float(weight):g}", confidence] for name, weight, confidence in rows] == expected
