"""Run every ThreatStream DAG once on local defaults, print what each did, then look a value up.

Starts the local Cosmos-protocol server and the feed replay server, points the Cosmos DB
connection and every registered source's connection (the registry's ``all_sources()``: the
built-in feeds and every list spec) at them, and runs with ``airflow dags test``:

1. each source's DAG (TAXII over the hour its fixture covers, the others over this hour);
2. the merged view, over the batches those runs validated;
3. the STIX export of what the merge changed, and maintenance (retention);

then prints the documents in Cosmos DB and looks up, with ``threatstream lookup`` (the package's
CLI, as installed by ``make setup``), a value that several sources reported. It exits non-zero
when any run failed. ``--keep`` leaves both servers up (until Ctrl-C) to look values up by hand::

    make demo                                   # or: python -m threatstream_dev.demo
    make demo ARGS=--keep                       # ... and keep the local servers up
    python -m threatstream_dev.demo --sources urlhaus --logical-date 2026-11-28T10:00:00+00:00
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from threatstream.naming import (
    COSMOS_CONN_ID,
    MAINTENANCE_DAG_ID,
    MERGED_VIEW_DAG_ID,
    STIX_EXPORT_DAG_ID,
)
from threatstream_dev.cosmos_emulator import running_emulator
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunOutcome, run_outcome
from threatstream_dev.stack import cli_command

REPO = Path(__file__).resolve().parents[2]
DEMO_HOME = REPO / ".demo"
DATABASE = "threatstream"
#: Sources whose replay fixture covers one recorded window: the logical date whose data interval
#: is that window. TAXII's pages were added 2026-11-28 09:00-10:00 (its first page asks
#: ``added_after`` 09:00, its headers say when each page was added), as ``tests/pipelines/
#: test_taxii_dag.py`` runs it; any other window finds nothing added.
FIXTURE_LOGICAL_DATES = {"taxii": "2026-11-28T10:00:00+00:00"}


def _airflow_env(extra: Mapping[str, str]) -> dict[str, str]:
    home = DEMO_HOME / "airflow"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__THREATSTREAM__STORAGE_BASE": (DEMO_HOME / "batches").as_uri(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
        **extra,
    }
    return env


def _airflow(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(airflow), *args], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def _source_lines(outcome: RunOutcome) -> list[str]:
    lines = []
    fetch, validate, upsert = (outcome.results.get(task, {}) for task in ("fetch", "validate", "upsert"))
    if fetch:
        lines.append(
            f"  fetch     {fetch['records']} records in {len(fetch['pages'])} pages, {fetch['bytes']} bytes, "
            f"{fetch['requests']} requests"
        )
    if validate:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(validate["reasons"].items())) or "none"
        lines.append(
            f"  validate  {validate['valid']} valid, {validate['rejected']} quarantined ({reasons}), "
            f"{validate['expired']} expired, {validate['duplicates']} duplicates"
        )
        lines.append(f"            quarantine: {validate['quarantine_uri']}")
    if upsert:
        lines.append(
            f"  upsert    {upsert['written']} written, {upsert['failed']} failed, "
            f"{upsert['batches']} batches, {upsert['request_charge']} RU in {upsert['duration_seconds']}s"
        )
    return lines


def _result_lines(outcome: RunOutcome) -> list[str]:
    """The merged view's, STIX export's or maintenance's returned facts, one line per task."""
    lines = []
    for task_id, result in sorted(outcome.results.items()):
        if isinstance(result, Mapping):
            shown = {k: v for k, v in result.items() if not isinstance(v, (list, dict)) or v}
            lines.append(f"  {task_id:<9} {json.dumps(shown, default=str)[:400]}")
    return lines


def _run(
    dag_id: str, logical_date: str, env: Mapping[str, str], conf: Mapping[str, Any] | None = None
) -> RunOutcome | None:
    """``airflow dags test`` one DAG; prints its outcome; returns it when it succeeded."""
    started = time.monotonic()
    args = ["dags", "test", dag_id, logical_date]
    if conf:
        args += ["--conf", json.dumps(conf)]
    result = _airflow(args, env)
    outcome = run_outcome(dag_id)
    if outcome is None:
        lines = [f"{dag_id}: no run recorded"]
    else:
        lines = [f"{dag_id}  {outcome.run_id}: {outcome.state}"]
        lines += _source_lines(outcome) if "fetch" in outcome.results else _result_lines(outcome)
    print("\n".join(lines) + f"\n  ({time.monotonic() - started:.1f}s)", flush=True)
    if outcome is None or not outcome.succeeded or result.returncode != 0:
        print(result.stdout[-6000:], result.stderr[-6000:], sep="\n", file=sys.stderr)
        return None
    return outcome


def _local_path(uri: str) -> Path:
    return Path(unquote(urlsplit(uri).path))


def most_reported(batches: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]] | None:
    """The value the most sources reported in these validated batches, and those sources."""
    reporters: dict[tuple[str, str], set[str]] = defaultdict(set)
    for batch in batches:
        with _local_path(str(batch["valid_uri"])).open(encoding="utf-8") as lines:
            for line in lines:
                document = json.loads(line)
                key = (document["indicator_type"], document["indicator_value"])
                reporters[key].add(str(document["source"]))
    if not reporters:
        return None
    (_, value), sources = max(reporters.items(), key=lambda item: (len(item[1]), item[0]))
    return value, sorted(sources)


def _lookup(value: str, cosmos_connection: str, user_env: Mapping[str, str]) -> bool:
    """Run ``threatstream lookup value`` as a user would: the console script, one variable set."""
    script = Path(sys.executable).with_name("threatstream")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "threatstream.cli"]
    env = {k: v for k, v in user_env.items() if not k.startswith("AIRFLOW")}
    env[f"AIRFLOW_CONN_{COSMOS_CONN_ID.upper()}"] = cosmos_connection
    env["AIRFLOW_HOME"] = str(DEMO_HOME / "cli")  # Airflow writes its default config there, not in ~
    if not script.exists():
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins"), env.get("PYTHONPATH", "")])
    result = subprocess.run([*command, "lookup", value], env=env, capture_output=True, text=True, check=False)
    print(result.stdout.rstrip())
    if result.returncode != 0:
        print(result.stderr.rstrip(), file=sys.stderr)
    return result.returncode == 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0915 (one script, in order)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", help="comma-separated source names (default: every registered one)")
    parser.add_argument(
        "--logical-date",
        help="logical date of the source runs (default: this hour; TAXII: the hour its fixture covers)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the local servers up (until Ctrl-C) to explore the store"
    )
    args = parser.parse_args(argv)
    user_env = dict(os.environ)
    started_at = datetime.now(UTC)
    this_hour = started_at.replace(minute=0, second=0, microsecond=0).isoformat()
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    (DEMO_HOME / "airflow").mkdir(parents=True)

    with running_emulator() as cosmos, FeedReplayServer() as feeds:
        cosmos_connection = cosmos.connection_json(database_name=DATABASE)
        os.environ.update(_airflow_env({f"AIRFLOW_CONN_{COSMOS_CONN_ID.upper()}": cosmos_connection}))
        from threatstream.sources import all_sources  # Airflow reads its configuration on import

        specs = all_sources()
        wanted = [n.strip() for n in args.sources.split(",") if n.strip()] if args.sources else None
        unknown = sorted(set(wanted or ()) - {spec.name for spec in specs})
        if unknown:
            print(f"unknown source(s) {unknown}; registered: {[s.name for s in specs]}", file=sys.stderr)
            return 2
        selected = [spec for spec in specs if wanted is None or spec.name in wanted]
        runnable = [spec for spec in selected if spec.name in feeds.sources]
        connections = {f"AIRFLOW_CONN_{s.conn_id.upper()}": feeds.connection_json(s.name) for s in runnable}
        connections[f"AIRFLOW_CONN_{COSMOS_CONN_ID.upper()}"] = cosmos_connection
        env = _airflow_env(connections)
        os.environ.update(env)
        print(f"Cosmos DB server: {cosmos.url}   feed replay server: {feeds.url}")

        migrated = _airflow(["db", "migrate"], env)
        if migrated.returncode != 0:
            print(migrated.stdout[-4000:], migrated.stderr[-4000:], sep="\n", file=sys.stderr)
            return 1

        failed: list[str] = []
        skipped = [spec.dag_id for spec in selected if spec not in runnable]
        for spec in selected:
            if spec not in runnable:
                print(f"{spec.dag_id}: SKIPPED, no replay fixture under include/feeds/{spec.name}/")
        batches: list[dict[str, Any]] = []
        print(f"\n== {len(runnable)} source DAGs")
        for spec in runnable:
            logical_date = args.logical_date or FIXTURE_LOGICAL_DATES.get(spec.name, this_hour)
            outcome = _run(spec.dag_id, logical_date, env)
            if outcome is None:
                failed.append(spec.dag_id)
                continue
            validated = outcome.results["validate"]
            batches.append(
                {
                    "valid_uri": validated["valid_uri"],
                    "storage_conn_id": validated.get("storage_conn_id"),
                    "source": spec.name,
                    "run_id": outcome.run_id,
                }
            )

        print("\n== the merged view, the STIX export and maintenance")
        if _run(MERGED_VIEW_DAG_ID, this_hour, env, {"batches": batches}) is None:
            failed.append(MERGED_VIEW_DAG_ID)
        window = {
            "since": started_at.isoformat(),
            "until": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
        }
        if _run(STIX_EXPORT_DAG_ID, this_hour, env, window) is None:
            failed.append(STIX_EXPORT_DAG_ID)
        if _run(MAINTENANCE_DAG_ID, this_hour, env) is None:
            failed.append(MAINTENANCE_DAG_ID)

        from threatstream.store.indicators import IndicatorStoreHook

        store = IndicatorStoreHook()
        per_source = {spec.name: store.count(spec.name) for spec in runnable}
        print(
            f"\nCosmos DB {store.database_name}/{store.container_name}: {store.count()} documents "
            f"{json.dumps(per_source)}"
        )

        shared = most_reported(batches)
        if shared is None:
            print("\nno value to look up: no batch was validated")
            failed.append("lookup")
        else:
            value, sources = shared
            command = cli_command(cosmos_connection, value)
            print(f"\n== lookup of {value}, reported by {len(sources)} sources ({', '.join(sources)})")
            print(f"$ {command}")
            if not _lookup(value, cosmos_connection, user_env):
                failed.append("lookup")

        ran = len(runnable) + 3
        summary = f"{ran - len([f for f in failed if f != 'lookup'])} of {ran} DAGs succeeded"
        if skipped:
            summary += f", {len(skipped)} skipped ({', '.join(skipped)})"
        if failed:
            summary += f"; failed: {', '.join(failed)}"
        print(f"\ndemo {'FAILED' if failed else 'succeeded'}: {summary}")
        if args.keep:
            print(
                "\nThe local servers stay up until you press Ctrl-C. In another shell:\n"
                f"  {cli_command(cosmos_connection, '<value>')}\n"
                f"  batches, quarantine files and the STIX bundle: {DEMO_HOME / 'batches'}\n"
                f"  Cosmos DB {cosmos.url} (database {DATABASE}; the emulator's well-known key above)\n"
                f"  feed replay {feeds.url}/_replay/requests (every request the DAGs made)",
                flush=True,
            )
            signal.signal(signal.SIGTERM, _interrupt)  # a `kill` stops the servers as Ctrl-C does
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("Stopping the local servers.")
        else:
            print(
                "The local servers are stopped; `make demo ARGS=--keep` leaves them up to look values up "
                "yourself, `make airflow` runs everything in the Airflow UI."
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
