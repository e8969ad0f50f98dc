"""``make bench`` rows for the MISP warninglists: validate with and without them, side by side,
and what loading the default lists costs (time and memory, once per task process).

:func:`measure` runs the real ``validate`` loop on the generated feeds of
:mod:`threatstream_dev.bench`, in one fresh process per source, alternating the default lists
and none (:func:`worker`); the target is at most 15 % fewer records per CPU-second with the
lists. The memory row loads the default lists in a fresh
interpreter and reports the traced allocations kept (``tracemalloc``) and the RSS growth::

    python -m threatstream_dev.warninglist_bench --memory
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from threatstream_dev.bench import Row

#: The most validate throughput the warninglist check may cost.
MAX_OVERHEAD = 0.15


def measure(
    work: Path,
    env: Mapping[str, str],
    sources: list[str],
    records: int,
    *,
    rounds: int,
    log: Callable[[str], None],
) -> list[Row]:
    """One row per source (validate with the default lists against without), then the memory row."""
    from threatstream_dev.bench import run_worker, validate_input

    rows = []
    for source in sources:
        _, _, spec = validate_input(source, records, work, "-warninglists")
        result = run_worker("warninglists", {**spec, "rounds": rounds}, env)
        listed, plain = result["with"], result["without"]
        ratio = listed / plain
        log(f"validate {source}: {listed:,.0f} with warninglists, {plain:,.0f} without ({1 - ratio:.1%})")
        rows.append(
            Row(
                f"validate {source} with the default warninglists, {records:,} records (records/CPU-s)",
                f"{listed:,.0f}",
                f"{plain:,.0f} (warninglists = none)",
                ratio,
                f">= {1 - MAX_OVERHEAD:.2f}x",
                ratio >= 1 - MAX_OVERHEAD,
            )
        )
    memory = load_cost(env)
    log(
        f"warninglists: {memory['lists']} default lists, {memory['entries']:,} entries loaded in "
        f"{memory['seconds']:.2f} s, {memory['traced_mb']:.1f} MB kept"
    )
    rows.append(
        Row(
            f"warninglists: load the {memory['lists']} default lists ({memory['entries']:,} entries), "
            "once per task process",
            f"{memory['seconds']:.2f} s, {memory['traced_mb']:.1f} MB kept "
            f"(+{memory['rss_mb']:.0f} MB RSS, {memory['peak_mb']:.0f} MB peak while loading)",
            "",
            None,
            "",
            None,
        )
    )
    return rows


def worker(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The real ``validate`` loop over one fetched batch with the default lists and with none,
    interleaved ``rounds`` times in this one process (same code layout, same hash seed for
    both); the best records per CPU-second of each."""
    from threatstream.batches.storage import open_path
    from threatstream.operators.validate import ValidateIndicatorsOperator
    from threatstream.records.results import FetchResult
    from threatstream.rules import warninglists
    from threatstream.sources import get_source
    from threatstream_dev.bench import cpu_seconds

    source = get_source(spec["source"])
    operator = ValidateIndicatorsOperator(task_id="validate", source=source.name)
    choices = {
        "with": warninglists.load(warninglists.DEFAULT_WARNINGLISTS),
        "without": warninglists.load(()),
    }

    def rate(batch: Mapping[str, Any], lists: warninglists.Warninglists) -> float:
        fetched = FetchResult.model_validate(batch)
        prefix = open_path(fetched.prefix, fetched.storage_conn_id)
        started = cpu_seconds()
        result = operator._validate(
            source, fetched, prefix / "valid.jsonl", prefix / "quarantine.jsonl", lists=lists
        )
        return result.records / (cpu_seconds() - started)

    for lists in choices.values():  # imports and first-use costs, outside the measurement
        rate(spec["warm_up"], lists)
    best = dict.fromkeys(choices, 0.0)
    for _ in range(spec["rounds"]):
        for name, lists in choices.items():
            best[name] = max(best[name], rate(spec["fetched"], lists))
    return best


def load_cost(env: Mapping[str, str]) -> dict[str, Any]:
    """Load the default lists in a fresh interpreter; time, entries and memory."""
    completed = subprocess.run(
        [sys.executable, "-m", "threatstream_dev.warninglist_bench", "--memory"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _memory() -> dict[str, Any]:
    import tracemalloc

    from threatstream.rules import warninglists

    warninglists.available()  # the catalogue (a directory listing), outside the measurement
    names = warninglists.DEFAULT_WARNINGLISTS
    rss = _rss_mb()
    started = time.perf_counter()
    lists = warninglists.load(names)
    seconds = time.perf_counter() - started
    rss_growth = _rss_mb() - rss
    del lists
    tracemalloc.start()
    lists = warninglists.load(names)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "lists": len(names),
        "entries": sum(info.entries for info in lists.info.values()),
        "seconds": round(seconds, 3),
        "traced_mb": round(kept / 2**20, 1),
        "peak_mb": round(peak / 2**20, 1),
        "rss_mb": round(rss_growth, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Warninglist load cost (time and memory).")
    parser.add_argument("--memory", action="store_true", help="print the load cost as JSON")
    args = parser.parse_args(argv)
    if args.memory:
        print(json.dumps(_memory()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
