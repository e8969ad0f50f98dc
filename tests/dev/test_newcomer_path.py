"""What `make setup`, `make demo` and `make airflow` give a newcomer: every source, the CLI line."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from threatstream.sources import all_sources
from threatstream_dev.demo import FIXTURE_LOGICAL_DATES, most_reported
from threatstream_dev.stack import _REGISTRY_SCRIPT, EXAMPLE_LOOKUP_VALUE, cli_command

REPO = Path(__file__).resolve().parents[2]


def test_the_stack_reads_the_whole_registry() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")])}
    output = subprocess.run(
        [sys.executable, "-c", _REGISTRY_SCRIPT], env=env, capture_output=True, text=True, check=True
    ).stdout
    read = json.loads(output.strip().splitlines()[-1])
    assert read == [{"name": s.name, "dag_id": s.dag_id, "conn_id": s.conn_id} for s in all_sources()]
    assert {s.spec_file is not None for s in all_sources()} == {True, False}  # list specs included


def test_the_lookup_line_is_one_shell_line_with_the_connection_verbatim() -> None:
    connection = json.dumps({"conn_type": "azure_cosmos", "login": "http://127.0.0.1:1/", "password": "k'=="})
    words = shlex.split(cli_command(connection))
    assert words[0] == f"AIRFLOW_CONN_THREATSTREAM_COSMOS={connection}"
    assert Path(words[1]).name == "threatstream"
    assert words[2:] == ["lookup", EXAMPLE_LOOKUP_VALUE]


def test_the_demo_looks_up_the_value_most_sources_report(tmp_path: Path) -> None:
    def batch(source: str, *values: str) -> dict[str, str]:
        path = tmp_path / source / "valid.jsonl"
        path.parent.mkdir()
        lines = [
            json.dumps({"source": source, "indicator_type": "IPv4", "indicator_value": value})
            for value in values
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return {"valid_uri": path.as_uri()}

    batches = [batch("a", "5.5.5.5", "6.6.6.6"), batch("b", "6.6.6.6"), batch("c", "6.6.6.6", "5.5.5.5")]
    assert most_reported(batches) == ("6.6.6.6", ["a", "b", "c"])
    assert most_reported([]) is None


def test_the_demo_runs_taxii_over_the_hour_its_fixture_covers() -> None:
    routes = json.loads((REPO / "include/feeds/taxii/routes.json").read_text(encoding="utf-8"))
    added = [
        route["headers"]["X-TAXII-Date-Added-First"]
        for route in routes["scenarios"]["default"]
        if "X-TAXII-Date-Added-First" in route.get("headers", {})
    ]
    hour_end = FIXTURE_LOGICAL_DATES["taxii"][:13]  # the logical date ends the hourly interval
    assert added
    assert all(re.match(r"2026-11-28T09:", value) for value in added), added
    assert hour_end == "2026-11-28T10"


def test_setup_reinstalls_the_project_after_every_sync() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(VENV)/.synced:", 1)[1].split("\n\n", 1)[0]
    sync = recipe.index("uv pip sync")
    editable = recipe.index("uv pip install --quiet --python $(PY) --no-deps -e .")
    assert sync < editable < recipe.index("touch $@")
    assert "pyproject.toml" in recipe.splitlines()[0]  # entry points changed: install again
