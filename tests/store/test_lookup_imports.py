"""What ``threatstream lookup`` imports: once the settings Airflow gives are remembered, a
lookup reaches the store with the Azure SDK alone (no Airflow, no ORM, no identity SDK), and
answers exactly what the Airflow route answers; a changed configuration goes through Airflow."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.cli import PROFILE_FILE
from threatstream.records.indicators import Observation
from threatstream.sources import scoring_policy
from threatstream.store.merged import MergedViewHook

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
#: Top-level packages (or package prefixes) a warm lookup must not import.
HEAVY = ("airflow", "sqlalchemy", "azure.identity", "azure.mgmt", "msal", "pydantic", "pendulum", "structlog")

#: Runs the CLI's ``main``; prints its exit status and the heavy modules it imported.
PROBE = """
import json, sys
from threatstream.cli import main
try:
    status = main(sys.argv[2:])
except SystemExit as exited:
    status = exited.code
heavy = json.loads(sys.argv[1])
loaded = sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules))
print("IMPORTED " + json.dumps(loaded))
sys.exit(status)
"""


@pytest.fixture
def seeded(cosmos_database: str) -> str:
    """An IPv4 reported by two sources in the merged view."""
    hook = MergedViewHook(policy=scoring_policy())
    documents = [
        observation.to_indicator(source, ingested_at=NOW, default_ttl=timedelta(days=7)).to_document()
        for source, observation in [
            ("otx", Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244", tlp=TLP.GREEN)),
            (
                "abuseipdb",
                Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244", confidence=90),
            ),
        ]
    ]
    assert hook.merge_documents(documents).failed == 0
    return cosmos_database


def run_lookup(cache: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``threatstream lookup args`` in a fresh interpreter; its outcome and the heavy modules it loaded."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")]),
        "XDG_CACHE_HOME": str(cache),
        **env,
    }
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), "lookup", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )
    lines = completed.stdout.splitlines()
    assert lines, completed.stderr[-2000:]
    assert lines[-1].startswith("IMPORTED "), completed.stderr[-2000:]
    imported: list[str] = json.loads(lines[-1].removeprefix("IMPORTED "))
    completed.stdout = "\n".join(lines[:-1])
    return completed, imported


def answer(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    printed: dict[str, Any] = json.loads(completed.stdout)
    return printed


def test_a_warm_lookup_imports_neither_airflow_nor_the_orm(seeded: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold, cold_imports = run_lookup(cache, "94.156.8[.]244", "--json")
    assert cold.returncode == 0, cold.stderr[-2000:]
    assert "airflow" in cold_imports  # the first lookup asks Airflow for its settings
    assert (cache / "threatstream" / PROFILE_FILE).is_file()
    assert os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"].split('"password": "')[1][:20] not in (
        cache / "threatstream" / PROFILE_FILE
    ).read_text(encoding="utf-8")

    warm, warm_imports = run_lookup(cache, "94.156.8[.]244", "--json")
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert warm_imports == []
    first, second = answer(cold), answer(warm)
    assert abs(first["record"].pop("current_score") - second["record"].pop("current_score")) <= 0.1
    assert first == second
    assert second["request_charge"] == 1.0

    missing, imports = run_lookup(cache, "5.188.10.197")
    assert (missing.returncode, imports) == (1, [])
    assert missing.stdout == "not found (IPv4 5.188.10.197); 0 RU"


def test_a_changed_configuration_is_read_through_airflow(seeded: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    base, _ = run_lookup(cache, "94.156.8.244", "--json")
    assert base.returncode == 0, base.stderr[-2000:]
    scoring = json.dumps({"source_weights": {"otx": 0.1, "abuseipdb": 0.1}})
    changed, imports = run_lookup(cache, "94.156.8.244", "--json", AIRFLOW__THREATSTREAM__SCORING=scoring)
    assert changed.returncode == 0, changed.stderr[-2000:]
    assert "airflow" in imports
    assert answer(changed)["record"]["current_score"] < answer(base)["record"]["current_score"]
    again, imports = run_lookup(cache, "94.156.8.244", "--json", AIRFLOW__THREATSTREAM__SCORING=scoring)
    assert imports == []
    assert abs(answer(again)["record"]["current_score"] - answer(changed)["record"]["current_score"]) <= 0.1


def test_a_uri_connection_goes_through_airflow(seeded: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert run_lookup(cache, "94.156.8.244")[0].returncode == 0
    connection = json.loads(os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"])
    uri = "azure-cosmos://?login=x"  # a form only Airflow parses: it decides, and finds no endpoint
    completed, imports = run_lookup(cache, "94.156.8.244", AIRFLOW_CONN_THREATSTREAM_COSMOS=uri)
    assert "airflow" in imports
    assert completed.returncode == 3
    assert connection["password"] not in completed.stderr


def test_a_warm_lookup_of_an_unreachable_store_fails_in_one_safe_line(seeded: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert run_lookup(cache, "94.156.8.244")[0].returncode == 0
    connection = json.loads(os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection["login"] = f"http://127.0.0.1:{port}/"
    completed, imports = run_lookup(
        cache, "94.156.8.244", AIRFLOW_CONN_THREATSTREAM_COSMOS=json.dumps(connection)
    )
    assert completed.returncode == 3
    assert "airflow" not in imports
    (line,) = completed.stderr.splitlines()
    assert "cannot be reached" in line
    assert connection["password"] not in line
    assert "Traceback" not in completed.stderr
