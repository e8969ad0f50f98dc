"""Tables in the docs that restate the registry are checked against it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from threatstream.merged.scoring import ScoringPolicy
from threatstream.pipelines.maintenance import build_maintenance_dag
from threatstream.pipelines.merged import build_merged_view_dag, build_stix_export_dag
from threatstream.pipelines.sources import build_source_dag
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


#: Params every source DAG has, documented once.
COMMON_PARAMS = ("dry_run", "max_reject_ratio")


def _range(param: Any) -> str:
    schema = param.schema
    parts = []
    if "enum" in schema:
        parts.append(" / ".join(map(str, schema["enum"])))
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '')}-{schema.get('maximum', '')}")
    if schema.get("format") == "date-time":
        parts.append("date-time")
    if not parts:
        kind = schema["type"]
        parts.append(kind if isinstance(kind, str) else "/".join(k for k in kind if k != "null"))
    parts.append("empty" if param.value in (None, "") else f"default {json.dumps(param.value)}")
    return ", ".join(parts)


def _param_rows() -> list[list[str]]:
    """One row per param: every source's common params once, then each DAG's own."""

    def row(dag_label: str, dag: Any, name: str) -> list[str]:
        param = dag.params.get_param(name)
        return [dag_label, f"`{name}`", param.schema["title"], _range(param), param.description]

    source_dags = [build_source_dag(spec) for spec in all_sources()]
    rows = [row("every source", source_dags[0], name) for name in COMMON_PARAMS]
    for dag in source_dags:
        rows += [row(f"`{dag.dag_id}`", dag, name) for name in dag.params if name not in COMMON_PARAMS]
    for dag in (build_merged_view_dag(), build_stix_export_dag(), build_maintenance_dag()):
        rows += [row(f"`{dag.dag_id}`", dag, name) for name in dag.params]
    return rows


def test_every_param_has_a_form_label_and_a_description() -> None:
    for row in _param_rows():
        _, name, title, _, description = row
        assert title, row
        assert title != name.strip("`"), row
        assert len(description or "") > 15, row


def test_the_params_table_is_the_dags_params() -> None:
    rows = _table((DOCS / "operations.md").read_text(encoding="utf-8"), "params-table")
    assert rows == _param_rows(), "regenerate the table: python tests/docs/test_docs_tables.py"


def test_a_fetch_option_without_a_label_refuses_to_build() -> None:
    from dataclasses import replace

    from threatstream.sources import get_source

    spec = get_source("threatfox")
    hook = type("UnlabelledHook", (spec.hook_class,), {"option_schema": {"days": {"type": "integer"}}})
    with pytest.raises(ValueError, match="fetch option 'days' needs a title and a description"):
        build_source_dag(replace(spec, hook_class=hook))


if __name__ == "__main__":
    print("| DAG | param | form label | range | meaning |\n|---|---|---|---|---|")
    for row in _param_rows():
        print("| " + " | ".join(row) + " |")
