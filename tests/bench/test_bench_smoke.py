"""``make bench`` in quick mode: the generators, the workers and the report work end to end.

Speed targets are not asserted here (they live in the benchmark itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from threatstream.feeds.pages import FetchedPage
from threatstream.sources import get_source
from threatstream_dev.bench import GENERATED_AT, generate_feed
from threatstream_dev.cosmos_emulator import CosmosEmulator

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("source", ["urlhaus", "otx", "abuseipdb"])
def test_generated_feeds_have_the_real_shape(source: str, tmp_path: Path) -> None:
    feed = generate_feed(source, 2500, tmp_path)
    spec = get_source(source)
    context = {"generated_at": GENERATED_AT} if source == "abuseipdb" else {}
    records = [
        record
        for path in feed.pages
        for record in spec.split_records(FetchedPage(path.read_bytes(), "default", context))
    ]
    assert len(records) == 2500
    rejected = 0
    for record in records:
        try:
            spec.parse_record(record, context)
        except ValueError:
            rejected += 1
    assert rejected <= 25  # a few deliberate rejects at most


@pytest.mark.bench
@pytest.mark.emulator
def test_quick_bench_prints_the_table_and_writes_the_page(
    cosmos_server: CosmosEmulator, tmp_path: Path
) -> None:
    output = tmp_path / "benchmarks.md"
    command = [sys.executable, "-m", "threatstream_dev.bench", "--quick", "--sections", "validate,upsert"]
    command += ["--sources", "abuseipdb", "--output", str(output), "--work", str(tmp_path / "work")]
    env = {
        **os.environ,
        "THREATSTREAM_COSMOS_URL": cosmos_server.url,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")]),
    }
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    table = completed.stdout
    assert "| validate abuseipdb, 2,000 records, no warninglists (records/CPU-s) |" in table
    assert "| validate abuseipdb with the default warninglists, 2,000 records (records/CPU-s) |" in table
    assert "| warninglists: load the 13 default lists" in table
    assert "vs one upsert_item per doc" in table
    assert "vs raw 100-op execute_item_batch loop" in table
    page = output.read_text(encoding="utf-8")
    assert page.startswith("# Benchmarks")
    assert "Machine: " in page
    assert table.strip() in page


#: The lookup rows' first cells, in order, and whether each states a target.
LOOKUP_ROWS = [
    ("lookup one value through the API, 50 requests (p50 / p99)", True),
    ("bulk lookup of 50 values through the API (one POST)", True),
    ("the SDK's read-many (read_items) of the same 50 values", False),
    ("RU per found value (local server: single point read / bulk read-many)", True),
    ("`threatstream lookup <value>` wall time (console script, fresh process)", True),
]


def test_lookup_rows_state_their_targets() -> None:
    from threatstream_dev.lookup_bench import expected_ru, lookup_rows

    rows = lookup_rows(
        requests=50,
        bulk=50,
        concurrency=10,
        api=[0.002] * 50,
        raw=[0.0012] * 50,
        api_bulk=0.3,
        raw_bulk=0.1,
        read_many=0.01,
        found=50,
        ru_single=1.0,
        ru_bulk=0.02,
        document_bytes=1457,
        cli_cold=4.0,
        cli_warm=0.4,
    )
    assert [(row.what, row.met is not None) for row in rows] == LOOKUP_ROWS
    assert [row.met for row in rows] == [True, False, None, True, True]
    assert rows[0].ours == "2.00 ms / 2.00 ms"
    assert rows[3].baseline == "real service: ~1.0 RU per point read of the 1,457-byte merged document"
    assert (expected_ru(900), expected_ru(100 * 1024)) == (1.0, 10.0)


@pytest.mark.bench
@pytest.mark.emulator
def test_quick_lookup_bench_prints_its_rows(cosmos_server: CosmosEmulator, tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    command = [sys.executable, "-m", "threatstream_dev.bench", "--quick", "--sections", "lookup"]
    command += ["--output", str(output), "--work", str(tmp_path / "work")]
    env = {
        **os.environ,
        "THREATSTREAM_COSMOS_URL": cosmos_server.url,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")]),
    }
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [line for line in completed.stdout.splitlines() if line.startswith("| ")][1:]
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    assert [(row[0], bool(row[4]) and not row[4].startswith("(")) for row in cells] == LOOKUP_ROWS
    for row in cells:
        assert len(row) == 6
        assert row[5] in ({"yes", "NO"} if row[4] and not row[4].startswith("(") else {""})
    assert cells[3][1].startswith("1 / ")  # a point read: 1 RU on the local server
    assert "(50 of 50 found)" in cells[3][1]
    assert cells[3][5] == "yes"
    assert "lookup one value through the API" in output.read_text(encoding="utf-8")
