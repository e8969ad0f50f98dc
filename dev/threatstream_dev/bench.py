"""``make bench``: the pipeline against the original design's own way, side by side, in one run.

Generates feeds of realistic shape (URLhaus, OTX, AbuseIPDB) and measures, each in a fresh
subprocess where it matters:

* **validate**, records per CPU-second per source, against a faithful re-implementation of
  the original per-record loop (one pydantic model per record in try/except, ``json``
  per document);
* **upsert**, documents per second, against one ``upsert_item`` call per document and
  against a raw loop of 100-operation ``execute_item_batch`` calls on 4 threads (the
  store's ceiling here), each into a fresh database of the local Cosmos-protocol server;
* **fetch + validate peak RSS** of the AbuseIPDB blacklist at two sizes (served over HTTP on
  127.0.0.1; the two tasks run in their own processes, the peak is the larger max RSS);
* **DagBag parse time** of ``dags/`` over an empty folder, and **task start overhead**.

It prints one table, writes it with the machine description to ``docs/benchmarks.md``,
and exits 1 when a target is missed (ratios, never absolute times; ``--quick``
runs small sizes for a smoke test and asserts nothing)::

    python -m threatstream_dev.bench [--quick] [--output docs/benchmarks.md] [--no-assert]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
SOURCES = ("urlhaus", "otx", "abuseipdb")
GENERATED_AT = "2026-05-30T09:00:02+00:00"
RECORDS_PER_PAGE = 1000  # URLhaus answers at most 1000 URLs; OTX pages of 20 pulses x 50 indicators
#: Records validated once, untimed, before the measured run (both ways).
WARM_UP_RECORDS = 2000


# ---------------------------------------------------------------------------- feeds


def _ipv4(i: int) -> str:
    """A distinct global IPv4 address for each i < 2**24 (45.0.0.0/8 and up)."""
    return f"{45 + (i >> 24)}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _ipv6(i: int) -> str:
    return f"2a01:4f8:{(i >> 16) & 0xFFFF:x}:{i & 0xFFFF:x}::1"


def _host(i: int) -> str:
    return f"cdn{i % 97}.host-{i:x}.example{i % 13}.com"


def _urlhaus_record(i: int) -> dict[str, Any]:
    kind = i % 4
    if kind == 0:
        url = f"http://{_ipv4(i)}:{1024 + i % 60000}/i"
    elif kind == 1:
        url = f"http://{_host(i)}/bins/mozi.{i % 7}"
    elif kind == 2:
        url = f"https://{_host(i)}/wp-content/uploads/2026/05/inv{i}.zip?dl=1"
    else:
        url = f"HTTP://{_host(i).upper()}:80/Download/%2fsetup{i}.exe"
    if i % 200 == 199:
        url = f"http://192.168.{i % 255}.1/bad"  # a few rejects, as in the real feed
    return {
        "id": str(3_900_000 + i),
        "urlhaus_reference": f"https://urlhaus.abuse.ch/url/{3_900_000 + i}/",
        "url": url,
        "url_status": "online" if i % 3 else "offline",
        "host": url.split("/")[2].split(":")[0],
        "date_added": f"2026-05-30 {i % 24:02d}:{i % 60:02d}:00 UTC",
        "threat": "malware_download",
        "blacklists": {"spamhaus_dbl": "not listed", "surbl": "not listed"},
        "reporter": f"reporter{i % 50}",
        "larted": "true",
        "tags": ["elf", "mips", "Mozi"][: 1 + i % 3],
    }


_OTX_TYPES = ("IPv4", "domain", "hostname", "URL", "FileHash-MD5", "FileHash-SHA256", "CVE", "email")


def _otx_indicator(i: int) -> dict[str, Any]:
    kind = _OTX_TYPES[i % len(_OTX_TYPES)]
    digest = hashlib.sha256(str(i).encode()).hexdigest()
    value = {
        "IPv4": _ipv4(i),
        "domain": f"evil-{i:x}.example{i % 13}.net",
        "hostname": _host(i),
        "URL": f"http://{_host(i)}/gate.php?id={i}",
        "FileHash-MD5": digest[:32],
        "FileHash-SHA256": digest,
        "CVE": f"CVE-20{20 + i % 6}-{10000 + i % 90000}",
        "email": f"phish{i}@example{i % 13}.org",
    }[kind]
    return otx_indicator(3_450_000_000 + i, kind, value)


def otx_indicator(number: int, kind: str, value: str) -> dict[str, Any]:
    """One indicator of an OTX pulse as the API writes it."""
    return {
        "id": number,
        "indicator": value,
        "type": kind,
        "created": "2026-05-28T05:05:15",
        "content": "",
        "title": "",
        "description": "",
        "expiration": None,
        "is_active": 1,
        "role": None,
    }


def otx_pulse(page: int, number: int, indicators: list[dict[str, Any]]) -> dict[str, Any]:
    """One OTX pulse as the API writes it, holding ``indicators``."""
    return {
        "id": f"{page:08x}{number:016x}",
        "name": f"Campaign {page}-{number}",
        "description": "",
        "author_name": "AlienVault",
        "modified": "2026-05-28T09:43:18.855000",
        "created": "2026-05-28T09:43:18.855000",
        "revision": 1,
        "tlp": "white",
        "public": 1,
        "adversary": "",
        "tags": ["botnet", "malware"],
        "targeted_countries": [],
        "malware_families": ["Mozi"],
        "attack_ids": ["T1059"],
        "references": ["https://example.org/report"],
        "industries": [],
        "extract_source": [],
        "more_indicators": False,
        "indicators": indicators,
    }


def _abuseipdb_row(i: int) -> dict[str, Any]:
    return {
        "ipAddress": _ipv6(i) if i % 20 == 19 else _ipv4(i),
        "countryCode": ("RU", "CN", "US", "DE", "BR")[i % 5],
        "abuseConfidenceScore": 100,
        "lastReportedAt": f"2026-05-30T{i % 24:02d}:{i % 60:02d}:17+00:00",
    }


@dataclass(frozen=True)
class Feed:
    """Generated raw pages of one source: files, their kind and context (as fetch stores them)."""

    source: str
    records: int
    pages: list[Path]


def generate_feed(source: str, records: int, folder: Path) -> Feed:
    """Write ``records`` records of ``source`` as raw response pages under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pages: list[Path] = []
    if source == "abuseipdb":  # the blacklist is one response
        path = folder / "page-00001.json"
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps({"meta": {"generatedAt": GENERATED_AT}})[:-1] + ', "data": [')
            for i in range(records):
                out.write(("," if i else "") + json.dumps(_abuseipdb_row(i)))
            out.write("]}")
        return Feed(source, records, [path])
    for number, start in enumerate(range(0, records, RECORDS_PER_PAGE), start=1):
        count = min(RECORDS_PER_PAGE, records - start)
        path = folder / f"page-{number:05d}.json"
        if source == "urlhaus":
            body: dict[str, Any] = {
                "query_status": "ok",
                "urls": [_urlhaus_record(i) for i in range(start, start + count)],
            }
        else:
            indicators = [_otx_indicator(i) for i in range(start, start + count)]
            pulses = [otx_pulse(number, p, indicators[p : p + 50]) for p in range(0, count, 50)]
            body = {"results": pulses, "count": len(pulses), "next": None}
        path.write_text(json.dumps(body), encoding="utf-8")
        pages.append(path)
    return Feed(source, records, pages)


# ---------------------------------------------------------------------------- workers (subprocesses)


def cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _max_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss`` it does not carry over the
    parent's peak through fork and exec)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fetch_result(feed: Feed, prefix: Path) -> dict[str, Any]:
    """Batch metadata for generated pages, as ``fetch`` would have returned it."""
    pages = []
    for path in feed.pages:
        body = path.read_bytes()
        kind = "pulses"
        pages.append(
            {
                "uri": path.resolve().as_uri(),
                "kind": kind if feed.source == "otx" else "default",
                "context": {"generated_at": GENERATED_AT} if feed.source == "abuseipdb" else {},
                "bytes": len(body),
                "records": 0,
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )
    now = datetime(2026, 5, 30, 10, tzinfo=UTC).isoformat()
    return {
        "source": feed.source,
        "run_id": "bench",
        "data_interval_start": now,
        "data_interval_end": now,
        "prefix": prefix.resolve().as_uri(),
        "pages": pages,
        "bytes": sum(page["bytes"] for page in pages),
        "records": feed.records,
        "sha256": "0" * 64,
        "fetched_at": now,
        "requests": len(pages),
        "duration_seconds": 0.0,
    }


class _XCom:
    """The one thing the operators use from ``ti``: pulling the upstream task's result."""

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = value

    def xcom_pull(self, task_ids: str) -> Mapping[str, Any]:
        return self.value


def worker_validate(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run the real ``validate`` operator on a fetched batch; CPU seconds and max RSS.

    A first run on the small ``warm_up`` batch, if given, pays the one-off costs (imports,
    schema builds) that a worker has paid before its task runs, as the baseline's worker does.
    """
    from threatstream.exceptions import RejectRatioExceeded
    from threatstream.operators.validate import ValidateIndicatorsOperator

    operator = ValidateIndicatorsOperator(task_id="validate", source=spec["source"])
    try:
        if "warm_up" in spec:
            operator.execute(cast(Any, {"ti": _XCom(spec["warm_up"])}))
        started = cpu_seconds()
        result = operator.execute(cast(Any, {"ti": _XCom(spec["fetched"])}))
    except RejectRatioExceeded as err:
        raise SystemExit(f"validate rejected too much of the generated feed: {err}") from None
    return {"records": result["records"], "valid": result["valid"], "cpu": cpu_seconds() - started}


def worker_original(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The original design's loop: a pydantic model per record in try/except, ``json`` per document."""
    from threatstream_dev.bench_original import original_validate

    source, out = spec["source"], Path(spec["out"])
    original_validate(source, [Path(p) for p in spec["warm_up_pages"]], out)
    started = cpu_seconds()
    records, valid = original_validate(source, [Path(p) for p in spec["pages"]], out)
    return {"records": records, "valid": valid, "cpu": cpu_seconds() - started}


def worker_fetch(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run the real ``fetch`` operator against the blacklist served on 127.0.0.1."""
    from threatstream.operators.fetch import FetchFeedOperator

    start = datetime(2026, 5, 30, 6, tzinfo=UTC)
    end = datetime(2026, 5, 30, 12, tzinfo=UTC)
    operator = FetchFeedOperator(
        task_id="fetch",
        source="abuseipdb",
        fetch_options={"confidence_minimum": 100, "limit": spec["records"]},
        storage_base=spec["storage_base"],
    )
    context = {"run_id": spec["run_id"], "data_interval_start": start, "data_interval_end": end}
    started = cpu_seconds()
    result = operator.execute(cast(Any, context))
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return {"records": result["records"], "cpu": cpu_seconds() - started}


def worker_dagbag(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Seconds to fill a DagBag from one folder, in a fresh interpreter (imports included)."""
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=spec["folder"])
    seconds = time.perf_counter() - started
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return {"seconds": seconds, "dags": len(bag.dags)}


def worker_task_start(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What a worker does before ``execute``: parse the DAG file, import what the task needs."""
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=spec["dag_file"])
    task = bag.dags[spec["dag_id"]].get_task(spec["task_id"])
    __import__("threatstream.store.indicators")
    return {"seconds": time.perf_counter() - started, "task": task.task_id}


def worker_warninglists(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate with the default warninglists and without, interleaved in one process."""
    from threatstream_dev.warninglist_bench import worker

    return worker(spec)


WORKERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "validate": worker_validate,
    "warninglists": worker_warninglists,
    "original": worker_original,
    "fetch": worker_fetch,
    "dagbag": worker_dagbag,
    "task_start": worker_task_start,
}


def run_worker(name: str, spec: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; its result plus its max RSS (MB) and wall time."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "threatstream_dev.bench", "--worker", name, json.dumps(spec)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench worker {name} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------- feed server


@contextlib.contextmanager
def serve_blacklist(path: Path) -> Iterator[int]:
    """Serve one file as ``/api/v2/blacklist`` on 127.0.0.1 (streamed); yields the port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with path.open("rb") as body:
                shutil.copyfileobj(body, self.wfile, 1 << 20)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------- measurements


@dataclass
class Row:
    """One line of the table: ours against a baseline, and the target on the ratio."""

    what: str
    ours: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None  # None: reported, no target

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.what, self.ours, self.baseline, ratio, self.target, met]


def _base_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__THREATSTREAM__STORAGE_BASE": home.parent.as_uri(),  # only the work folder
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")]),
    }


def validate_input(
    source: str, records: int, work: Path, batch_suffix: str = ""
) -> tuple[Feed, Feed, dict[str, Any]]:
    """A generated feed of ``records`` and a warm-up one, and the validate worker's spec (both
    fetched into batches named with ``batch_suffix``)."""
    feed = generate_feed(source, records, work / "feeds" / f"{source}-{records}")
    warm_up = generate_feed(source, WARM_UP_RECORDS, work / "feeds" / f"{source}-warm-up")
    spec = {
        "source": source,
        "fetched": _fetch_result(feed, work / "batches" / f"{source}-{records}{batch_suffix}"),
        "warm_up": _fetch_result(warm_up, work / "batches" / f"{source}-warm-up{batch_suffix}"),
    }
    return feed, warm_up, spec


def measure_validate(
    work: Path,
    env: Mapping[str, str],
    sources: list[str],
    records: int,
    *,
    rounds: int,
    log: Callable[[str], None],
) -> list[Row]:
    rows = []
    # The original design checked no warninglists: ours does the same work here, and the
    # lists' own cost is measured apart (warninglist_bench).
    plain_env = {**env, "AIRFLOW__THREATSTREAM__WARNINGLISTS": "none"}
    for source in sources:
        feed, warm_up, ours_spec = validate_input(source, records, work)
        original_spec = {
            "source": source,
            "pages": [str(p) for p in feed.pages],
            "warm_up_pages": [str(p) for p in warm_up.pages],
            "out": str(work / f"original-{source}.jsonl"),
        }
        # Interleaved rounds, best of each: a shared machine's load swings between runs.
        ours_rate = original_rate = 0.0
        for _ in range(rounds):
            ours = run_worker("validate", ours_spec, plain_env)
            ours_rate = max(ours_rate, ours["records"] / ours["cpu"])
            original = run_worker("original", original_spec, env)
            original_rate = max(original_rate, original["records"] / original["cpu"])
        log(f"validate {source}: {ours_rate:,.0f} vs original {original_rate:,.0f} records/CPU-s")
        rows.append(
            Row(
                f"validate {source}, {records:,} records, no warninglists (records/CPU-s)",
                f"{ours_rate:,.0f}",
                f"{original_rate:,.0f} (pydantic model per record)",
                ours_rate / original_rate,
                ">= 1x",
                ours_rate >= original_rate,
            )
        )
    return rows


def measure_rss(
    work: Path, env: Mapping[str, str], sizes: list[int], log: Callable[[str], None]
) -> list[Row]:
    peaks: dict[int, tuple[float, float]] = {}
    split: dict[int, str] = {}
    for size in sizes:
        feed = generate_feed("abuseipdb", size, work / "feeds" / f"abuseipdb-served-{size}")
        with serve_blacklist(feed.pages[0]) as port:
            connection = {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": port,
                "schema": "http",
                "password": "bench-key",
                "extra": {"timeout": 300},
            }
            run_env = {**env, "AIRFLOW_CONN_THREATSTREAM_ABUSEIPDB": json.dumps(connection)}
            result_path = work / f"fetch-{size}.json"
            fetch = run_worker(
                "fetch",
                {
                    "records": size,
                    "run_id": f"bench-{size}",
                    "storage_base": (work / "batches").as_uri(),
                    "result": str(result_path),
                },
                run_env,
            )
        fetched = json.loads(result_path.read_text(encoding="utf-8"))
        validate = run_worker("validate", {"source": "abuseipdb", "fetched": fetched}, run_env)
        peak = max(fetch["max_rss_mb"], validate["max_rss_mb"])
        cpu = fetch["cpu"] + validate["cpu"]
        peaks[size] = (peak, cpu)
        split[size] = f"fetch {fetch['max_rss_mb']:.0f} MB, validate {validate['max_rss_mb']:.0f} MB"
        log(f"fetch+validate abuseipdb {size:,}: peak {peak:.0f} MB, {cpu:.1f} CPU-s")
    small, large = min(sizes), max(sizes)
    rows = [
        Row(
            f"fetch + validate AbuseIPDB, {size:,} rows: peak RSS",
            f"{peaks[size][0]:.0f} MB",
            split[size],
            None,
            "<= 300 MB",
            peaks[size][0] <= 300,
        )
        for size in sizes
    ]
    rows.append(
        Row(
            f"fetch + validate AbuseIPDB, {large:,} rows: CPU",
            f"{peaks[large][1]:.1f} s",
            "",
            None,
            "< 60 s",
            peaks[large][1] < 60,
        )
    )
    growth = peaks[large][0] / peaks[small][0]
    rows.append(
        Row(
            f"peak RSS {large:,} vs {small:,} rows (flat memory)",
            f"{peaks[large][0]:.0f} MB",
            f"{peaks[small][0]:.0f} MB",
            growth,
            "<= 1.2x",
            growth <= 1.2,
        )
    )
    return rows


def _documents(work: Path, count: int) -> Path:
    """``count`` canonical documents (validated AbuseIPDB rows) as JSON lines."""
    path = work / f"documents-{count}.jsonl"
    if path.exists():
        return path
    from threatstream.batches.encoding import encode_document
    from threatstream.sources import get_source

    spec = get_source("abuseipdb")
    ingested = datetime(2026, 5, 30, 10, tzinfo=UTC)
    with path.open("wb") as out:
        for i in range(count):
            observation = spec.parse_record(_abuseipdb_row(i), {"generated_at": GENERATED_AT})
            indicator = observation.to_indicator(
                "abuseipdb", ingested_at=ingested, default_ttl=spec.default_ttl
            )
            out.write(encode_document(indicator.to_document())[0])
    return path


Database = Callable[[], contextlib.AbstractContextManager[Any]]


def _upsert_ours(database: Database, path: Path, documents: int, log: Callable[[str], None]) -> float:
    """Read the batch file, plan as it streams, write at adaptive concurrency (as ``upsert`` does)."""
    from threatstream.batches.storage import open_path, read_lines

    with database() as hook:
        started = time.perf_counter()
        stats = hook.upsert_json_lines(
            read_lines(open_path(path.resolve().as_uri(), base=path.resolve().parent.as_uri()))
        )
        rate = float(stats.written / (time.perf_counter() - started))
        assert stats.written == documents, stats.failures[:3]
    log(f"upsert ours: {rate:,.0f} docs/s (peak {stats.peak_concurrency} batches in flight)")
    return rate


def _upsert_per_document(database: Database, path: Path, sample: int, log: Callable[[str], None]) -> float:
    """The original: one ``upsert_item`` per document (on a sample)."""
    from threatstream.batches.storage import open_path, read_json_lines

    with database() as hook:
        container = hook.get_container()
        documents = list(
            islice(
                read_json_lines(open_path(path.resolve().as_uri(), base=path.resolve().parent.as_uri())),
                sample,
            )
        )
        started = time.perf_counter()
        for document in documents:
            container.upsert_item(document)
        rate = len(documents) / (time.perf_counter() - started)
    log(f"upsert one upsert_item per document: {rate:,.0f} docs/s")
    return rate


def _upsert_ceiling(database: Database, path: Path, log: Callable[[str], None]) -> float:
    """Batches planned in memory, 4 threads of raw ``execute_item_batch``."""
    from concurrent.futures import ThreadPoolExecutor

    from threatstream.batches.storage import open_path, read_json_lines
    from threatstream.store.planning import Batch, document_entries, plan_batches

    with database() as hook:
        container = hook.get_container()
        documents = list(
            read_json_lines(open_path(path.resolve().as_uri(), base=path.resolve().parent.as_uri()))
        )
        # No partial batch released early: batches as full as the documents allow.
        planned = plan_batches(document_entries(documents, "partition_key"), max_buffered=len(documents))
        batches = [batch.decoded() for batch in planned]

        def write(batch: Batch) -> int:
            operations = [("upsert", (dict(d),)) for d in batch.documents]
            container.execute_item_batch(batch_operations=operations, partition_key=batch.partition_key)
            return len(operations)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            written = sum(pool.map(write, batches))
        rate = written / (time.perf_counter() - started)
    log(f"upsert raw execute_item_batch loop: {rate:,.0f} docs/s")
    return rate


def measure_upsert(
    work: Path, documents: int, per_document_sample: int, rounds: int, log: Callable[[str], None]
) -> list[Row]:
    from azure.cosmos import CosmosClient

    from threatstream.store.indicators import IndicatorStoreHook
    from threatstream_dev.cosmos_emulator import running_emulator

    path = _documents(work, documents)
    with running_emulator() as emulator:
        client = CosmosClient(emulator.url, {"masterKey": emulator.key})

        @contextlib.contextmanager
        def database() -> Iterator[IndicatorStoreHook]:
            name = f"bench-{uuid.uuid4().hex[:8]}"
            os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"] = emulator.connection_json(database_name=name)
            hook = IndicatorStoreHook()
            hook.get_container()
            try:
                yield hook
            finally:
                client.delete_database(name)

        # Interleaved rounds, best of each: a shared machine's load swings between runs.
        ours = ceiling = per_document = 0.0
        for _ in range(rounds):
            ours = max(ours, _upsert_ours(database, path, documents, log))
            ceiling = max(ceiling, _upsert_ceiling(database, path, log))
            per_document = max(per_document, _upsert_per_document(database, path, per_document_sample, log))
    return _upsert_rows(documents, per_document_sample, ours, ceiling, per_document)


def _upsert_rows(documents: int, sample: int, ours: float, ceiling: float, per_document: float) -> list[Row]:
    return [
        Row(
            f"upsert {documents:,} docs vs one upsert_item per doc (docs/s)",
            f"{ours:,.0f}",
            f"{per_document:,.0f} (sample of {sample:,})",
            ours / per_document,
            ">= 20x",
            ours / per_document >= 20,
        ),
        Row(
            f"upsert {documents:,} docs vs raw 100-op execute_item_batch loop, 4 threads",
            f"{ours:,.0f}",
            f"{ceiling:,.0f}",
            ours / ceiling,
            ">= 0.9x",
            ours / ceiling >= 0.9,
        ),
        Row(
            "the store's ceiling itself: raw batch loop vs one upsert_item per doc",
            f"{ceiling:,.0f}",
            f"{per_document:,.0f}",
            ceiling / per_document,
            "(bounds the 20x above)",
            None,
        ),
    ]


def measure_parsing(
    work: Path, env: Mapping[str, str], repeats: int, log: Callable[[str], None]
) -> list[Row]:
    empty = work / "empty-dags"
    empty.mkdir(exist_ok=True)
    # As a dag-processor runs: with Python's bytecode cache (an environment may turn it off with
    # PYTHONDONTWRITEBYTECODE), filled by one untimed parse, so modules are not compiled each time.
    env = {**env, "PYTHONDONTWRITEBYTECODE": ""}
    run_worker("dagbag", {"folder": str(REPO / "dags")}, env)
    over_empty = [run_worker("dagbag", {"folder": str(empty)}, env)["seconds"] for _ in range(repeats)]
    with_dags = [run_worker("dagbag", {"folder": str(REPO / "dags")}, env)["seconds"] for _ in range(repeats)]
    added = statistics.median(with_dags) - statistics.median(over_empty)
    log(f"DagBag: dags/ adds {added:.2f} s")
    start = [
        run_worker(
            "task_start",
            {
                "dag_file": str(REPO / "dags" / "threatstream_urlhaus.py"),
                "dag_id": "threatstream_urlhaus",
                "task_id": "upsert",
            },
            env,
        )
        for _ in range(repeats)
    ]
    seconds = statistics.median(item["seconds"] for item in start)
    wall = statistics.median(item["wall"] for item in start)
    log(f"task start: {seconds:.2f} s to parse the DAG file and import the task's modules")
    return [
        Row(
            "DagBag parse of dags/ over an empty folder",
            f"+{added:.2f} s",
            f"{statistics.median(over_empty):.2f} s (empty)",
            None,
            "<= 0.5 s",
            added <= 0.5,
        ),
        Row(
            "task start: parse the DAG file + import the task's modules",
            f"{seconds:.2f} s",
            f"{wall:.2f} s with interpreter start",
            None,
            "",
            None,
        ),
    ]


# ---------------------------------------------------------------------------- report


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().splitlines()[0].split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    from importlib.metadata import version

    packages = ", ".join(
        f"{name} {version(name)}" for name in ("apache-airflow", "azure-cosmos", "pydantic", "orjson")
    )
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}; "
        f"load average {load} at the start; Python {platform.python_version()}; {packages}"
    )


def render_table(rows: list[Row]) -> str:
    header = ["measure", "ThreatStream", "baseline (same run)", "ratio", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def render_page(rows: list[Row], machine: str, command: str, seconds: float) -> str:
    return f"""# Benchmarks

Produced by `{command}` ({seconds / 60:.1f} minutes) on {datetime.now(UTC):%Y-%m-%d}:
`dev/threatstream_dev/bench.py` generates feeds of realistic shape and measures the pipeline
against the original design's own way in the same run. Ratios are what it asserts.

Machine: {machine}.

{render_table(rows)}

How each line is measured:

* **validate**: the real `validate` operator on generated raw pages (URLhaus: pages of 1000
  URLs; OTX: pages of 20 pulses x 50 indicators of 8 types; AbuseIPDB: one blacklist
  response with 5 % IPv6), in a fresh process, CPU seconds of that process after an untimed
  warm-up run on {WARM_UP_RECORDS:,} records (both ways), best of interleaved rounds. The baseline
  (`dev/threatstream_dev/bench_original.py`) is the original per-record loop: `json.loads`
  of the page, one pydantic model per record in `try/except`, `json.dumps` per document.
* **upsert**: documents per second into a fresh database of the local Cosmos-protocol
  server (the store's own speed is the ceiling here), best of interleaved rounds. Ours
  reads `valid.jsonl` and writes transactional batches at adaptive concurrency; the
  baselines are one `upsert_item` per document (timed on a sample) and a raw loop of
  100-operation `execute_item_batch` calls on 4 threads over batches planned in memory
  (ours reads and plans inside its time; the raw loop does both before its clock starts).
* **peak RSS**: the real `fetch` operator against the blacklist served over HTTP on
  127.0.0.1, then `validate`, each in its own process; the peak is the larger max RSS.
* **DagBag**: median over fresh interpreters of filling a `DagBag` from `dags/` minus from
  an empty folder (imports included), with Python's bytecode cache on and filled by one
  untimed parse, as in a running dag-processor. **Task start**: a fresh interpreter parsing
  one DAG file and importing the modules the `upsert` task needs.
* **lookup** (`dev/threatstream_dev/lookup_bench.py`): the merged view seeded with values two
  sources report; the real API app served by uvicorn in its own process on 127.0.0.1 (the
  caller authenticated as in `tests/api`), called over keep-alive HTTP, against the same
  values' raw `read_item` through a plain SDK client, interleaved; bulk is best of rounds,
  raw reads on as many threads as the API uses. The local server charges 1 RU per request;
  on the real service a point read costs 1 RU up to 1 KB and 10 RU at 100 KB (its only other
  factor is strong or bounded-staleness consistency, which doubles it). The CLI is the
  console script in a fresh process: the first run reads its settings through Airflow, the
  next ones reach the store with the Azure SDK alone (`threatstream.cli.direct_store`).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Benchmark ThreatStream against the original design.")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test); asserts nothing")
    parser.add_argument("--validate-records", type=int, default=100_000)
    parser.add_argument("--rss-sizes", default="100000,1000000")
    parser.add_argument("--upsert-documents", type=int, default=100_000)
    parser.add_argument("--per-document-sample", type=int, default=3_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--work", type=Path, help="where feeds and batches go (default: a temp dir)")
    parser.add_argument(
        "--sections", default="validate,upsert,rss,parse,lookup", help="comma-separated subset"
    )
    parser.add_argument("--sources", default=",".join(SOURCES), help="sources for the validate section")
    parser.add_argument(
        "--no-assert", action="store_true", help="report only; exit 0 even if a target is missed"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](json.loads(args.spec))
        result["max_rss_mb"] = _max_rss_mb()
        print(json.dumps(result))
        return 0

    if args.quick:
        args.validate_records, args.rss_sizes = 2_000, "1000,5000"
        args.upsert_documents, args.per_document_sample, args.repeats = 2_000, 200, 1
    rss_sizes = [int(size) for size in args.rss_sizes.split(",")]
    command = "python -m threatstream_dev.bench" + (" --quick" if args.quick else "")

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    for name in ("azure", "airflow"):  # the SDK logs every request at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    machine = machine_description()
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        work = args.work or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="threatstream-bench-"))
        )
        work.mkdir(parents=True, exist_ok=True)
        home = work / "airflow-home"
        home.mkdir(exist_ok=True)
        env = _base_env(home)
        os.environ.update({key: value for key, value in env.items() if key != "PYTHONPATH"})
        sections = set(args.sections.split(","))
        rows: list[Row] = []
        if "validate" in sections:
            rows += measure_validate(
                work, env, args.sources.split(","), args.validate_records, rounds=args.repeats, log=log
            )
            from threatstream_dev.warninglist_bench import measure as measure_warninglists

            rows += measure_warninglists(
                work, env, args.sources.split(","), args.validate_records, rounds=args.repeats, log=log
            )
        if "upsert" in sections:
            rows += measure_upsert(work, args.upsert_documents, args.per_document_sample, args.repeats, log)
        if "rss" in sections:
            rows += measure_rss(work, env, rss_sizes, log)
        if "parse" in sections:
            rows += measure_parsing(work, env, args.repeats, log)
        if "lookup" in sections:
            from threatstream_dev.lookup_bench import measure as measure_lookups

            sizes = {"requests": 50, "bulk": 50, "cli_runs": 1} if args.quick else {}
            rows += measure_lookups(work, **sizes, rounds=args.repeats, log=log)
    seconds = time.perf_counter() - started
    print(render_table(rows))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_page(rows, machine, command, seconds), encoding="utf-8")
    missed = [row.what for row in rows if row.met is False]
    if missed and not (args.quick or args.no_assert):
        print(f"targets missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
