"""``make bench``: lookups against the local Cosmos-protocol server, side by side with raw reads.

Seeds the merged view with values reported by two sources (the pipeline's own merge), then
measures in one run:

* **single lookup through the API**: ``GET /threatstream/api/v1/lookup`` of the real app
  (:func:`threatstream.api.app.create_app`) served by uvicorn in a subprocess on 127.0.0.1,
  the caller authenticated as the API tests do it; p50 and p99 over the requests, against
  the same value's raw ``container.read_item`` (the floor), one of each in turn;
* **bulk lookup**: ``POST /threatstream/api/v1/lookup`` of all seeded values against raw
  point reads of them on :data:`~threatstream.api.lookup.BULK_CONCURRENCY` threads, and
  against the SDK's read-many (``container.read_items``); best of interleaved rounds;
* **RU**: the charge the API reports per found value (1 RU per point read on the local
  server) and what a point read of the merged document costs on the real service;
* **the CLI**: wall time of ``threatstream lookup <value>`` (the console script) in a fresh
  process, cold (the first run, which reads the settings through Airflow) and warm.

Run alone with ``python -m threatstream_dev.bench --sections lookup``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from threatstream_dev.bench import REPO, Row

#: The API's path in the api-server (the plugin's prefix, ``threatstream.api.app.URL_PREFIX``).
LOOKUP_PATH = "/threatstream/api/v1/lookup"
#: Targets: the API's single lookup and bulk lookup at most this many times the raw reads.
SINGLE_TARGET = 2.0
BULK_TARGET = 2.0
#: Target of the CLI's warm wall time, in seconds.
CLI_TARGET_SECONDS = 1.0
#: Requests of each kind sent untimed before measuring.
WARM_UP = 20


def _ipv4(i: int) -> str:
    return f"{45 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.{7 + i % 200}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# ---------------------------------------------------------------------------- the API server


def serve(port: int) -> None:
    """The API app under its api-server prefix on 127.0.0.1:``port``, every caller a viewer
    allowed to read every DAG (``tests/api/conftest.py``'s overrides, with ``get_user``
    replaced by a coroutine as Airflow's own is), until killed."""
    import uvicorn
    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI

    from threatstream.api.app import URL_PREFIX, create_app

    class AllowAll:
        def is_authorized_dag(self, **_: Any) -> bool:
            return True

    async def bench_user() -> SimpleAuthManagerUser:
        return SimpleAuthManagerUser(username="bench", role="viewer")

    api_app.get_auth_manager = AllowAll  # type: ignore[assignment]
    app = create_app()
    app.dependency_overrides[get_user] = bench_user  # async, as Airflow's get_user
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    uvicorn.run(root, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def api_server(probe_value: str) -> Iterator[int]:
    """The API served by uvicorn in a subprocess (the connection from this environment); its port."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")])}
    command = [sys.executable, "-m", "threatstream_dev.lookup_bench", "--serve", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                error = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"the API server exited with code {process.returncode}:\n{error[-3000:]}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status, _ = _get(connection, probe_value)
                connection.close()
                if status in (200, 404):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not answer within 180 s")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def _get(connection: http.client.HTTPConnection, value: str) -> tuple[int, dict[str, Any]]:
    connection.request("GET", f"{LOOKUP_PATH}?{urllib.parse.urlencode({'value': value})}")
    response = connection.getresponse()
    body: dict[str, Any] = json.loads(response.read())
    return response.status, body


def _post(connection: http.client.HTTPConnection, values: list[str]) -> dict[str, Any]:
    payload = json.dumps(values).encode()
    connection.request("POST", LOOKUP_PATH, body=payload, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body: dict[str, Any] = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"bulk lookup answered HTTP {response.status}: {str(body)[:300]}")
    return body


# ---------------------------------------------------------------------------- the store


def seed(values: list[str]) -> None:
    """Merge two sources' reports of each value into the merged view (the pipeline's merge)."""
    from threatstream.canonical.vocabulary import TLP, IndicatorType
    from threatstream.records.indicators import Observation
    from threatstream.sources import scoring_policy
    from threatstream.store.merged import MergedViewHook

    now = datetime.now(UTC).replace(microsecond=0)
    documents = []
    for i, value in enumerate(values):
        for source, observation in (
            ("otx", Observation(indicator_type=IndicatorType.IPV4, value=value, tlp=TLP.GREEN, tags=("c2",))),
            (
                "abuseipdb",
                Observation(indicator_type=IndicatorType.IPV4, value=value, confidence=60 + i % 40),
            ),
        ):
            indicator = observation.to_indicator(source, ingested_at=now, default_ttl=timedelta(days=7))
            documents.append(indicator.to_document())
    stats = MergedViewHook(policy=scoring_policy()).merge_documents(documents)
    if stats.failed:
        raise RuntimeError(f"seeding the merged view failed for {stats.failed} documents")


def _raw_container(url: str, key: str, database: str) -> Any:
    """The merged container through a plain SDK client with the CLI's client options."""
    from azure.cosmos import CosmosClient

    from threatstream.cli import _CLIENT_OPTIONS
    from threatstream.store.containers import DEFAULT_MERGED_CONTAINER

    client = CosmosClient(url, {"masterKey": key}, **_CLIENT_OPTIONS)
    return client.get_database_client(database).get_container_client(DEFAULT_MERGED_CONTAINER)


# ---------------------------------------------------------------------------- measurements


def _single(
    port: int, container: Any, value: str, *, requests: int, log: Callable[[str], None]
) -> tuple[list[float], list[float], float]:
    """Latencies of the API's single lookup and of the raw point read, alternately; and the RU
    the API reported for the value."""
    from threatstream.canonical.identity import merged_keys

    document_id, partition_key = merged_keys("IPv4", value)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    charge = 0.0
    for _ in range(WARM_UP):
        status, body = _get(connection, value)
        if status != 200:
            raise RuntimeError(f"lookup of {value} answered HTTP {status}: {str(body)[:300]}")
        charge = float(body["request_charge"])
        container.read_item(document_id, partition_key=partition_key)
    api: list[float] = []
    raw: list[float] = []
    for _ in range(requests):  # alternately, so both see the same load
        started = time.perf_counter()
        _get(connection, value)
        api.append(time.perf_counter() - started)
        started = time.perf_counter()
        container.read_item(document_id, partition_key=partition_key)
        raw.append(time.perf_counter() - started)
    connection.close()
    log(
        f"lookup single: API p50 {_ms(statistics.median(api))} p99 {_ms(_percentile(api, 0.99))}, "
        f"raw p50 {_ms(statistics.median(raw))} p99 {_ms(_percentile(raw, 0.99))}"
    )
    return api, raw, charge


def _bulk(
    port: int, container: Any, values: list[str], rounds: int, log: Callable[[str], None]
) -> tuple[float, float, float, dict[str, Any]]:
    """Best seconds of the API's bulk lookup, of raw point reads at the API's concurrency, and
    of the SDK's read-many, over interleaved rounds; and the last API answer."""
    from threatstream.api.lookup import BULK_CONCURRENCY
    from threatstream.canonical.identity import merged_keys

    keys = [merged_keys("IPv4", value) for value in values]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def point_reads() -> int:
        with ThreadPoolExecutor(max_workers=min(BULK_CONCURRENCY, len(keys))) as pool:
            found = list(pool.map(lambda key: container.read_item(key[0], partition_key=key[1]), keys))
        return len(found)

    def read_many() -> int:
        return len(container.read_items(keys, max_concurrency=BULK_CONCURRENCY))

    answer = _post(connection, values)  # warm-up
    point_reads()
    read_many()
    api = raw = many = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        answer = _post(connection, values)
        api = min(api, time.perf_counter() - started)
        started = time.perf_counter()
        if point_reads() != len(values):
            raise RuntimeError("raw point reads missed seeded values")
        raw = min(raw, time.perf_counter() - started)
        started = time.perf_counter()
        if read_many() != len(values):
            raise RuntimeError("read_items missed seeded values")
        many = min(many, time.perf_counter() - started)
    connection.close()
    log(f"lookup bulk {len(values)}: API {api:.3f} s, raw point reads {raw:.3f} s, read_items {many:.3f} s")
    return api, raw, many, answer


def _cli(value: str, runs: int, work: Path, log: Callable[[str], None]) -> tuple[float, float]:
    """Wall seconds of ``threatstream lookup value``: the first run, and the median of the next."""
    script = Path(sys.executable).with_name("threatstream")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "threatstream.cli"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]),
        "XDG_CACHE_HOME": str(work / f"cli-cache-{uuid.uuid4().hex[:8]}"),  # the first run is cold
    }
    seconds = []
    for _ in range(1 + runs):
        started = time.perf_counter()
        completed = subprocess.run(
            [*command, "lookup", value], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        seconds.append(time.perf_counter() - started)
        if completed.returncode != 0:
            raise RuntimeError(
                f"threatstream lookup {value} exited {completed.returncode}: {completed.stderr}"
            )
    cold, warm = seconds[0], statistics.median(seconds[1:])
    log(f"lookup CLI: {warm:.2f} s warm (median of {runs}), {cold:.2f} s cold")
    return cold, warm


def measure(
    work: Path,
    *,
    requests: int = 1000,
    bulk: int = 1000,
    cli_runs: int = 5,
    rounds: int = 5,
    log: Callable[[str], None],
) -> list[Row]:
    """The lookup rows of the bench (see the module's docstring)."""
    from threatstream.api.lookup import BULK_CONCURRENCY
    from threatstream_dev.cosmos_emulator import running_emulator

    values = [_ipv4(i) for i in range(bulk)]
    with running_emulator() as emulator:
        database = f"lookup-bench-{uuid.uuid4().hex[:8]}"
        previous = os.environ.get("AIRFLOW_CONN_THREATSTREAM_COSMOS")
        os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"] = emulator.connection_json(database_name=database)
        try:
            started = time.perf_counter()
            seed(values)
            log(f"lookup: seeded {len(values):,} merged documents in {time.perf_counter() - started:.1f} s")
            container = _raw_container(emulator.url, emulator.key, database)
            stored = container.read_item(*_keys(values[0]))
            size = len(json.dumps(stored, separators=(",", ":")).encode())
            with api_server(values[0]) as port:
                api, raw, charge = _single(port, container, values[0], requests=requests, log=log)
                api_bulk, raw_bulk, many, answer = _bulk(port, container, values, rounds, log)
            cold, warm = _cli(values[0], cli_runs, work, log)
        finally:
            if previous is None:
                os.environ.pop("AIRFLOW_CONN_THREATSTREAM_COSMOS", None)
            else:
                os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"] = previous
            with contextlib.suppress(Exception):
                from azure.cosmos import CosmosClient

                CosmosClient(emulator.url, {"masterKey": emulator.key}).delete_database(database)
    found = [item for item in answer["results"] if item["status"] == "found"]
    ru_bulk = sum(float(item["request_charge"]) for item in found) / max(1, len(found))
    log(f"lookup RU: {charge:g} single, {ru_bulk:g} per found value in bulk; document {size} bytes")
    return lookup_rows(
        requests=requests,
        bulk=bulk,
        concurrency=BULK_CONCURRENCY,
        api=api,
        raw=raw,
        api_bulk=api_bulk,
        raw_bulk=raw_bulk,
        read_many=many,
        found=len(found),
        ru_single=charge,
        ru_bulk=ru_bulk,
        document_bytes=size,
        cli_cold=cold,
        cli_warm=warm,
    )


def _keys(value: str) -> tuple[str, str]:
    from threatstream.canonical.identity import merged_keys

    return merged_keys("IPv4", value)


def expected_ru(document_bytes: int) -> float:
    """The real service's charge for a point read of a document this size (session or eventual
    consistency): 1 RU up to 1 KB, 10 RU at 100 KB (Microsoft's table), linear in between."""
    kib = document_bytes / 1024
    return 1.0 if kib <= 1 else round(1 + 9 * (kib - 1) / 99, 2)


def lookup_rows(
    *,
    requests: int,
    bulk: int,
    concurrency: int,
    api: list[float],
    raw: list[float],
    api_bulk: float,
    raw_bulk: float,
    read_many: float,
    found: int,
    ru_single: float,
    ru_bulk: float,
    document_bytes: int,
    cli_cold: float,
    cli_warm: float,
) -> list[Row]:
    """The table's lookup rows from the measurements."""
    api_p50, raw_p50 = statistics.median(api), statistics.median(raw)
    single_ratio = api_p50 / raw_p50
    bulk_ratio = api_bulk / raw_bulk
    ru_met = found == bulk and ru_single == 1.0 and ru_bulk <= 1.0
    return [
        Row(
            f"lookup one value through the API, {requests:,} requests (p50 / p99)",
            f"{_ms(api_p50)} / {_ms(_percentile(api, 0.99))}",
            f"{_ms(raw_p50)} / {_ms(_percentile(raw, 0.99))} (raw read_item, same value)",
            single_ratio,
            f"p50 <= {SINGLE_TARGET:g}x",
            single_ratio <= SINGLE_TARGET,
        ),
        Row(
            f"bulk lookup of {bulk:,} values through the API (one POST)",
            f"{api_bulk:.3f} s",
            f"{raw_bulk:.3f} s ({bulk:,} raw read_item on {concurrency} threads)",
            bulk_ratio,
            f"<= {BULK_TARGET:g}x",
            bulk_ratio <= BULK_TARGET,
        ),
        Row(
            f"the SDK's read-many (read_items) of the same {bulk:,} values",
            f"{read_many:.3f} s",
            f"{raw_bulk:.3f} s (raw read_item on {concurrency} threads)",
            read_many / raw_bulk,
            "(the API's bulk path when faster)",
            None,
        ),
        Row(
            "RU per found value (local server: single point read / bulk read-many)",
            f"{ru_single:g} / {ru_bulk:.3g} ({found:,} of {bulk:,} found)",
            f"real service: ~{expected_ru(document_bytes):.1f} RU per point read of the "
            f"{document_bytes:,}-byte merged document",
            None,
            "<= 1 RU",
            ru_met,
        ),
        Row(
            "`threatstream lookup <value>` wall time (console script, fresh process)",
            f"{cli_warm:.2f} s",
            f"{cli_cold:.2f} s first run (settings read through Airflow)",
            None,
            f"< {CLI_TARGET_SECONDS:g} s",
            cli_warm < CLI_TARGET_SECONDS,
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m threatstream_dev.lookup_bench --serve PORT")
