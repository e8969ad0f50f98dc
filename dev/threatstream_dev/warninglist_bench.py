"""``make bench`` rows for the MISP warninglists: validate with and without them, side by side,
and what loading the default lists costs (time and memory, once per task process).

:func:`measure` runs the real ``validate`` operator on the generated feeds of
:mod:`threatstream_dev.bench`, each run in a fresh process, alternating
``[threatstream] warninglists`` = default and ``none``; the target is at most 15 % fewer
records per CPU-second with the lists. The memory row loads the default lists in a fresh
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
_SETTING = "AIRFLOW__THREATSTREAM__WARNINGLISTS"


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
    with_lists = {**env, _SETTING: "default"}
    without = {**env, _SETTING: "none"}
    for source in sources:
        _, _, spec = validate_input(source, records, work, "-warninglists")
        listed = plain = 0.0
        for _ in range(rounds):  # interleaved, best of each: a shared machine's load swings
            result = run_worker("validate", spec, with_lists)
            listed = max(listed, result["records"] / result["cpu"])
            result = run_worker("validate", spec, without)
            plain = max(plain, result["records"] / result["cpu"])
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
