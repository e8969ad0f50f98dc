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
    assert "| validate abuseipdb, 2,000 records (records/CPU-s) |" in table
    assert "| validate abuseipdb with the default warninglists, 2,000 records (records/CPU-s) |" in table
    assert "| warninglists: load the 13 default lists" in table
    assert "vs one upsert_item per doc" in table
    assert "vs raw 100-op execute_item_batch loop" in table
    page = output.read_text(encoding="utf-8")
    assert page.startswith("# Benchmarks")
    assert "Machine: " in page
    assert table.strip() in page
