"""Benchmark of the merged view on the local Cosmos-protocol server.

Merges N synthetic IPv4 reports from each of three sources (so every value ends with three
provenance entries), then point-reads every value, and prints throughput, the request
charges the server reports, and the sizes of the merged documents (what drives the real
service's RU cost; see docs/merged-view.md).

    PYTHONPATH=plugins:dev .venv/bin/python -m threatstream_dev.merged_bench --count 2000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def _export(hook: Any, now: datetime) -> dict[str, object]:
    """Stream every merged document into a STIX bundle file, as the export operator does."""
    import tempfile
    import tracemalloc

    from threatstream.merged.stix import to_stix

    tracemalloc.start()
    started = time.perf_counter()
    objects = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as handle:
        handle.write('{"type": "bundle", "id": "bundle--x", "objects": [')
        for document in hook.changed_between(
            now - timedelta(hours=1), datetime.now(UTC) + timedelta(seconds=1)
        ):
            stix_object = to_stix(document, now)
            if stix_object is not None:
                handle.write(("," if objects else "") + json.dumps(stix_object))
                objects += 1
        handle.write("]}")
        size = handle.tell()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "objects": objects,
        "bytes": size,
        "objects_per_second": round(objects / elapsed, 1),
        "peak_traced_mib": round(peak / 2**20, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=2000, help="distinct values per source")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    from threatstream_dev.cosmos_emulator import running_emulator

    with running_emulator() as emulator:
        database = f"bench-{uuid.uuid4().hex[:8]}"
        os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"] = emulator.connection_json(database_name=database)
        from threatstream.canonical.vocabulary import IndicatorType
        from threatstream.records.indicators import Observation
        from threatstream.sources import scoring_policy
        from threatstream.store.merged import MergedViewHook

        now = datetime.now(UTC)
        values = [f"45.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in range(args.count)]
        hook = MergedViewHook(max_concurrency=args.concurrency, policy=scoring_policy())
        report: dict[str, object] = {"values": args.count, "sources": 3}
        for source, confidence in (("otx", None), ("abuseipdb", 90), ("feodo", None)):
            documents = (
                Observation(
                    indicator_type=IndicatorType.IPV4, value=value, confidence=confidence, tags=("c2",)
                )
                .to_indicator(source, ingested_at=now, default_ttl=timedelta(days=7))
                .to_document()
                for value in values
            )
            started = time.perf_counter()
            stats = hook.merge_documents(documents)
            elapsed = time.perf_counter() - started
            charge = stats.read_charge + stats.write_charge
            report[f"merge_{source}"] = {
                **stats.as_dict(),
                "docs_per_second": round(stats.documents / elapsed, 1),
                "ru_per_document": round(charge / stats.documents, 2),
            }
        started = time.perf_counter()
        sizes, charges = [], []
        for value in values:
            document, charge = hook.read_merged("IPv4", value)
            assert document is not None
            charges.append(charge)
            sizes.append(len(json.dumps(document, separators=(",", ":")).encode()))
        elapsed = time.perf_counter() - started
        report["lookup"] = {
            "reads_per_second": round(len(values) / elapsed, 1),
            "ru_per_lookup": statistics.mean(charges),
            "merged_document_bytes_median": statistics.median(sizes),
        }
        report["stix_export"] = _export(hook, now)
        hook.get_conn().delete_database(database)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
