"""Store-side fault injection: real DAG runs through a fault proxy in front of the Cosmos server,
plus hostile records through the feed replay server.

For each case: the task path (retried then green, or red without retry), the final document
set (exactly the validated documents: nothing lost, nothing duplicated) and the quarantine
contents. Each case records a row for ``docs/reliability.md`` with ``fault_case``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from threatstream.batches.encoding import MAX_DOCUMENT_BYTES, TRIMMED_KEY, encode_line
from threatstream.batches.storage import open_path, read_json_lines
from threatstream.canonical.vocabulary import IndicatorType
from threatstream.records.indicators import Observation
from threatstream.store.indicators import IndicatorStoreHook
from threatstream_dev.cosmos_emulator import CosmosEmulator
from threatstream_dev.cosmos_fault_proxy import CosmosFaultProxy, Fault
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunOutcome, load_dagbag, run_outcome

pytestmark = [pytest.mark.emulator, pytest.mark.replay, pytest.mark.dagrun]

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
DAG_ID = "threatstream_urlhaus"
LOGICAL_DATE = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
URLHAUS_PAGE = REPO / "include" / "feeds" / "urlhaus" / "urls_recent.json"

RunSourceDag = Callable[[], RunOutcome]
#: The ``fault_case`` fixture of ``tests/faults/conftest.py``.
FaultCase = Callable[[str, str, str], None]


@pytest.fixture(scope="session")
def fault_proxy(cosmos_server: CosmosEmulator) -> Iterator[CosmosFaultProxy]:
    if not cosmos_server.url.startswith("http://"):
        pytest.skip("the fault proxy fronts a plain-HTTP Cosmos server")
    with CosmosFaultProxy(cosmos_server.url) as proxy:
        yield proxy


@pytest.fixture
def store_proxy(
    fault_proxy: CosmosFaultProxy, cosmos_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CosmosFaultProxy]:
    """The store connection goes through the proxy (no faults yet) to this test's database."""
    fault_proxy.reset()
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_COSMOS", fault_proxy.connection_json(cosmos_database))
    yield fault_proxy
    fault_proxy.reset()


@pytest.fixture
def run_source_dag(
    airflow_db: Path, store_proxy: CosmosFaultProxy, feed_connections: FeedReplayServer
) -> RunSourceDag:
    """Run the URLhaus DAG once with ``dag.test()`` (real retries, real servers)."""

    def run() -> RunOutcome:
        dag = load_dagbag(DAGS_FOLDER).dags[DAG_ID]
        dag_run = dag.test(logical_date=LOGICAL_DATE)
        outcome = run_outcome(DAG_ID, dag_run.run_id)
        assert outcome is not None
        return outcome

    return run


def _stored() -> dict[str, dict[str, Any]]:
    """Every stored document by id, without system fields; also checks there are no duplicates."""
    documents = list(IndicatorStoreHook().query("SELECT * FROM c"))
    by_id = {d["id"]: {k: v for k, v in d.items() if not k.startswith("_")} for d in documents}
    assert len(by_id) == len(documents), "duplicate documents"
    return by_id


def _validated(outcome: RunOutcome) -> dict[str, dict[str, Any]]:
    validate = outcome.results["validate"]
    return {d["id"]: d for d in read_json_lines(open_path(validate["valid_uri"]))}


def _lines(uri: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in open_path(uri).read_text(encoding="utf-8").splitlines()]


def _victim_id() -> str:
    """The id of one document of the recorded URLhaus page."""
    observation = Observation(indicator_type=IndicatorType.URL, value="http://59.40.83.17:42989/i")
    return observation.to_indicator("urlhaus", ingested_at=LOGICAL_DATE, default_ttl=timedelta(days=1)).id


def _assert_exact_set(outcome: RunOutcome) -> int:
    """The store holds exactly the validated documents of the run; returns how many."""
    expected = _validated(outcome)
    assert expected
    assert _stored() == expected
    return len(expected)


@pytest.mark.parametrize(
    ("case", "fault", "in_task"),
    [
        (
            "store 429 with x-ms-retry-after-ms (3 batches)",
            Fault(status=429, headers={"x-ms-retry-after-ms": "40"}, times=3),
            "throttled",
        ),
        ("store 429 without Retry-After (3 batches)", Fault(status=429, times=3), "throttled"),
        ("store 503 twice", Fault(status=503, times=2), "retried"),
        ("store 408 twice", Fault(status=408, times=2), "retried"),
        ("store connection dropped mid-batch, after the write", Fault(drop="after", skip=5), "retried"),
        ("store connection dropped mid-batch, before the write", Fault(drop="before", skip=5), "retried"),
    ],
    ids=["429-retry-after", "429-bare", "503", "408", "drop-after-write", "drop-before-write"],
)
def test_transient_store_faults_are_retried_inside_the_task(
    run_source_dag: RunSourceDag,
    store_proxy: CosmosFaultProxy,
    fault_case: FaultCase,
    case: str,
    fault: Fault,
    in_task: str,
) -> None:
    store_proxy.inject(fault)
    outcome = run_source_dag()
    assert outcome.succeeded
    assert outcome.tries["upsert"] == 1  # handled inside the task, no Airflow retry
    assert store_proxy.injected == fault.times
    upsert = outcome.results["upsert"]
    if in_task == "throttled":
        assert upsert["throttled"] == fault.times
    count = _assert_exact_set(outcome)
    assert (upsert["written"], upsert["failed"], upsert["refused"]) == (count, 0, 0)
    assert _lines(upsert["store_quarantine_uri"]) == []
    fault_case(
        case,
        "retried inside the task, then green",
        f"green on try 1 ({store_proxy.injected} injected); {count} of {count} documents stored once",
    )


def test_a_store_outage_longer_than_the_in_task_retries_is_retried_by_airflow(
    run_source_dag: RunSourceDag, store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    attempts = IndicatorStoreHook().max_attempts
    # The batch holding one document fails every in-task attempt (the SDK itself sends each
    # write answered 503 once more, so every attempt costs two faults).
    faults = 2 * attempts
    store_proxy.inject(Fault(status=503, body_contains=f'"{_victim_id()}"'.encode(), times=faults))
    outcome = run_source_dag()
    assert outcome.succeeded
    assert outcome.tries["upsert"] == 2
    assert store_proxy.injected == faults
    count = _assert_exact_set(outcome)
    fault_case(
        f"store 503 on {attempts} consecutive attempts of one batch",
        "task red (retryable), retried by Airflow, then green",
        f"green on try 2; {count} of {count} documents stored once",
    )


def test_a_document_the_store_refuses_is_quarantined_and_the_rest_written(
    run_source_dag: RunSourceDag, store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    victim = _victim_id()
    store_proxy.inject(Fault(status=413, on="write", body_contains=f'"{victim}"'.encode(), times=None))
    outcome = run_source_dag()
    assert outcome.succeeded
    assert outcome.tries["upsert"] == 1  # not retried for a refused document
    upsert = outcome.results["upsert"]
    expected = _validated(outcome)
    assert victim in expected
    assert (upsert["written"], upsert["failed"], upsert["refused"]) == (len(expected) - 1, 1, 1)
    assert _stored() == {k: v for k, v in expected.items() if k != victim}
    (entry,) = _lines(upsert["store_quarantine_uri"])
    assert entry["id"] == victim
    assert entry["status"] == 413
    assert "RequestEntityTooLarge" in entry["reason"]
    assert upsert["store_quarantine_uri"].endswith("/store_quarantine.jsonl")
    assert (
        Path(open_path(upsert["store_quarantine_uri"]).path).parent
        == Path(open_path(outcome.results["validate"]["valid_uri"]).path).parent
    )
    fault_case(
        "store refuses one document (413)",
        "green without retry; the document in store_quarantine.jsonl, the rest written",
        f"green on try 1; {upsert['written']} written, 1 refused (id, status 413, reason) quarantined",
    )


def test_a_store_refusing_most_documents_fails_the_run_without_retry(
    run_source_dag: RunSourceDag, store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    store_proxy.inject(Fault(status=400, on="write", times=None))
    outcome = run_source_dag()
    assert outcome.state == "failed"
    assert outcome.tries["upsert"] == 1
    assert _stored() == {}
    store_quarantine = open_path(outcome.results["validate"]["valid_uri"]).parent / "store_quarantine.jsonl"
    entries = _lines(str(store_quarantine))
    assert {entry["id"] for entry in entries} == set(_validated(outcome))
    assert {entry["status"] for entry in entries} == {400}
    fault_case(
        "store refuses every document (400)",
        "red without retry; every document in store_quarantine.jsonl",
        f"red on try 1; 0 stored, {len(entries)} refused and quarantined",
    )


def test_a_store_rejecting_the_key_fails_without_retry(
    run_source_dag: RunSourceDag, store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    store_proxy.inject(Fault(status=401, on="any", times=None))
    outcome = run_source_dag()
    assert outcome.state == "failed"
    assert outcome.tries["upsert"] == 1
    store_proxy.reset()
    assert _stored() == {}
    fault_case("store answers 401", "red without retry", "red on try 1; nothing written")


def test_a_worker_killed_mid_upsert_then_rerun_stores_everything_once(
    run_source_dag: RunSourceDag, store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    store_proxy.inject(Fault(delay=0.25, times=None))  # slow batches: the kill lands mid-upsert
    worker = subprocess.Popen(
        [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, LOGICAL_DATE.isoformat()],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while store_proxy.batch_requests() < 5:
            assert worker.poll() is None, "the worker ended before the upsert was under way"
            assert time.monotonic() < deadline, "the worker never reached the upsert"
            time.sleep(0.05)
        os.killpg(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(30)
    time.sleep(0.5)  # batches already at the store finish
    partial = len(_stored())
    store_proxy.reset()
    outcome = run_source_dag()
    assert outcome.succeeded
    count = _assert_exact_set(outcome)
    assert 0 < partial < count
    fault_case(
        "worker killed (SIGKILL) mid-upsert, then the run again",
        "the rerun is green and completes the set",
        f"{partial} of {count} stored when killed; after the rerun {count} of {count}, each once",
    )


def _hostile_page() -> tuple[str, dict[str, Any]]:
    """The recorded URLhaus page plus good filler and one record of each hostile kind."""
    page = json.loads(URLHAUS_PAGE.read_text(encoding="utf-8"))
    template = page["urls"][0]
    urls: list[Any] = list(page["urls"])
    urls += [dict(template, id=f"good-{i}", url=f"http://filler{i}.example.com/x") for i in range(40)]
    deep: Any = "bottom"
    for _ in range(300):
        deep = [deep]
    hostile = {
        "lone-surrogate": dict(template, id="lone-surrogate", url="http://a\ud800.example.com/x"),
        "nul": dict(template, id="nul", url="http://nul.example.com/\x00x"),
        "deep": dict(template, id="deep", url="http://deep.example.com/", threat=deep),
        "wrong-types": dict(template, id="wrong-types", url="http://types.example.com/", date_added=5),
        "not-an-object": "just a string",
        "huge-field": dict(template, id="huge-field", url="http://huge.example.com/", threat="x" * 300_000),
        "huge-tags": dict(
            template,
            id="huge-tags",
            url="http://tags.example.com/",
            tags=[f"{i:04d}" + "t" * 1000 for i in range(300)],
        ),
    }
    urls += list(hostile.values())
    body = json.dumps({"query_status": "ok", "urls": urls}, ensure_ascii=True)
    return body, hostile


def test_hostile_records_fail_alone_and_their_quarantine_entries_are_written(
    run_source_dag: RunSourceDag, feed_connections: FeedReplayServer, fault_case: FaultCase
) -> None:
    body, hostile = _hostile_page()
    feed_connections.inject_fault("urlhaus", status=200, body=body, times=1)
    outcome = run_source_dag()
    assert outcome.succeeded
    assert outcome.tries["validate"] == 1
    validate = outcome.results["validate"]
    quarantine = {
        str(entry["record"].get("id") if isinstance(entry["record"], dict) else entry["record"]): entry
        for entry in _lines(validate["quarantine_uri"])
    }
    stored = _stored()
    by_url_id = {d["raw_metadata"].get("id"): d for d in stored.values()}
    for name in ("lone-surrogate", "nul", "deep", "wrong-types", "just a string"):
        assert name in quarantine, name
        assert quarantine[name]["message"]
        assert name not in by_url_id
    # The streaming parser reads the lone surrogate escape as U+003F or keeps it escaped; either
    # way the entry is written, and the raw page keeps the original bytes.
    assert quarantine["lone-surrogate"]["record"]["url"] in {
        "http://a\\ud800.example.com/x",
        "http://a?.example.com/x",
    }
    assert quarantine["deep"]["reason"] in {"unencodable", "malformed_record"}
    assert quarantine["wrong-types"]["reason"] == "malformed_record"
    trimmed = by_url_id.get("huge-field")
    assert trimmed is not None
    assert trimmed["raw_metadata"][TRIMMED_KEY] == ["threat"]
    assert validate["trimmed"] >= 1
    if "huge-tags" in quarantine:
        assert quarantine["huge-tags"]["reason"] == "too_large"
    for document in stored.values():
        assert len(encode_line(document)) <= MAX_DOCUMENT_BYTES
    assert all(f"good-{i}" in by_url_id for i in range(40))
    _assert_exact_set(outcome)
    fault_case(
        "hostile records: lone surrogate, NUL, 300-deep nesting, wrong types, non-object, "
        "300 KB field, 300 KB of tags",
        "green; each bad record quarantined alone with an escaped, writable entry; oversize trimmed",
        f"green on try 1; {validate['rejected']} quarantined ({validate['reasons']}), "
        f"{validate['trimmed']} trimmed, {validate['valid']} stored",
    )
    assert hostile


def _spread_documents(partitions: int, per_partition: int = 100) -> list[dict[str, Any]]:
    return [
        {"id": f"doc-{p}-{i}", "partition_key": f"URL_{p:02x}", "source": "bench", "n": i}
        for p in range(partitions)
        for i in range(per_partition)
    ]


def test_write_concurrency_grows_while_the_store_answers_cleanly(
    store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    documents = _spread_documents(60)
    # Batches overlap long enough to count them, and their time is the network's, which does
    # not grow with the batches in flight (unlike a store at its capacity, where growth stops).
    store_proxy.inject(Fault(delay=0.1, times=None))
    stats = IndicatorStoreHook(max_concurrency=6).upsert_documents(documents)
    assert (stats.written, stats.failed, stats.throttled) == (6000, 0, 0)
    assert stats.peak_concurrency == 6
    assert store_proxy.peak_batches_in_flight == 6
    assert len(_stored()) == 6000
    fault_case(
        "store answers cleanly (60 batches, 100 ms each)",
        "write concurrency grows from 2 to the maximum",
        f"peak {store_proxy.peak_batches_in_flight} batches in flight (maximum 6); 6000 of 6000 stored",
    )


def test_write_concurrency_backs_off_under_sustained_throttling(
    store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    documents = _spread_documents(12)
    store_proxy.inject(Fault(status=429, headers={"x-ms-retry-after-ms": "5"}, times=None))
    stats = IndicatorStoreHook(max_concurrency=6, max_throttle_retries=2).upsert_documents(documents)
    assert (stats.written, stats.failed) == (0, 1200)  # the task would fail as retryable
    assert stats.refused == []
    assert stats.throttled == 12 * 2  # two waits per batch, the third 429 gives up
    assert store_proxy.injected == 12 * 3
    assert store_proxy.peak_batches_in_flight <= 2  # halved at once, never grown
    fault_case(
        "store answers 429 to every batch",
        "write concurrency never grows; each batch gives up after its throttle retries (retryable)",
        f"peak {store_proxy.peak_batches_in_flight} batches in flight (maximum 6); "
        f"{store_proxy.injected} requests throttled; all 12 batches failed as retryable, nothing refused",
    )


def test_a_container_created_meanwhile_by_another_task_is_used(
    store_proxy: CosmosFaultProxy, fault_case: FaultCase
) -> None:
    """Upserts starting together race to create the container: the loser's 409 is not an error."""
    race = Fault(status=409, on="any", body_contains=b'"partitionKey"', times=1)
    store_proxy.inject(race)
    hook = IndicatorStoreHook()
    container = hook.get_container()
    assert race.applied == 1
    assert container.id == hook.container_name
    assert hook.count() == 0  # the container answers
    fault_case(
        "store 409 on creating the container (another task created it meanwhile)",
        "the existing container is used, no error",
        "container ready after one more create-if-not-exists",
    )
