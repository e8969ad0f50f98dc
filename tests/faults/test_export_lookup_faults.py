"""Faults of the STIX export and of ``threatstream lookup``.

The export: storage that fills up half-way through a bundle (a real file-size limit on the
local disk; an object store with a quota at the file-system level), and a merged document
in the real merged view that cannot be mapped to STIX. A consumer must find either no
``bundle.json`` or a complete one, and one bad document must not cost the whole export.

The lookup CLI, run as a subprocess: an unreachable store (closed port), a store that
accepts connections and never answers, a missing connection, a malformed account key and
oversized or unusable values. Each failure is one bounded line on stderr, without traceback
or key, with its own exit status (2 invalid value, 3 store or configuration error).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.records.indicators import Observation
from threatstream.store.merged import MergedViewHook
from threatstream_dev.cosmos_emulator import CosmosEmulator
from threatstream_dev.runs import RunOutcome, load_dagbag, run_outcome

pytestmark = [pytest.mark.emulator]

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
DAG_ID = "threatstream_stix_export"
NOW = datetime.now(UTC).replace(microsecond=0)
#: A key of the right shape, never printed by the CLI whatever fails.
SECRET_KEY = "QmFkS2V5Rm9yVGhyZWF0U3RyZWFtVGVzdHNPbmx5MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u" + "=="
MAX_LINE = 300

#: The ``fault_case`` fixture of ``tests/faults/conftest.py``.
FaultCase = Callable[[str, str, str], None]


# -- the export ------------------------------------------------------------------------


@pytest.fixture
def merged_view(cosmos_database: str) -> MergedViewHook:
    """A merged view of 40 IPv4 values (two sources each) and a CVE, changed an hour ago."""
    hook = MergedViewHook()
    documents = []
    for index in range(40):
        value = f"94.156.{8 + index // 200}.{10 + index % 200}"
        for source in ("otx", "abuseipdb"):
            observation = Observation(indicator_type=IndicatorType.IPV4, value=value, tags=("botnet",))
            documents.append(
                observation.to_indicator(
                    source, ingested_at=NOW - timedelta(hours=1), default_ttl=timedelta(days=7)
                ).to_document()
            )
    cve = Observation(indicator_type=IndicatorType.CVE, value="CVE-2024-3400")
    documents.append(cve.to_indicator("otx", ingested_at=NOW, default_ttl=timedelta(days=7)).to_document())
    assert hook.merge_documents(documents).failed == 0
    return hook


def window() -> dict[str, str]:
    return {
        "since": (NOW - timedelta(minutes=5)).isoformat(),
        "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }


def run_export(**kwargs: Any) -> RunOutcome:
    dag = load_dagbag(DAGS_FOLDER).dags[DAG_ID]
    dag_run = dag.test(**kwargs)
    outcome = run_outcome(DAG_ID, dag_run.run_id)
    assert outcome is not None
    return outcome


class QuotaFile(MemoryFile):  # type: ignore[misc]
    """A file of :class:`QuotaFileSystem`: what fits is kept, then ``ENOSPC``."""

    def write(self, data: Any) -> int:
        fs: QuotaFileSystem = self.fs
        room = fs.quota - fs.used()
        if len(data) > room:
            super().write(bytes(data[: max(room, 0)]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)
        return int(super().write(data))


class QuotaFileSystem(MemoryFileSystem):  # type: ignore[misc]
    """An in-memory object store with a byte quota, logging how each object came to be.

    Like an object store (and unlike a local rename), an object written through ``open`` is
    visible under its name while it is being written; a copy creates its target whole.
    """

    cachable = False

    def __init__(self, quota: int) -> None:
        super().__init__()
        self.store: dict[str, MemoryFile] = {}
        self.pseudo_dirs: list[str] = [""]
        self.quota = quota
        self.opened_for_write: list[str] = []
        self.copied: list[tuple[str, str]] = []

    def used(self) -> int:
        return sum(item.getbuffer().nbytes for item in self.store.values())

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "w" not in mode:
            return super()._open(path, mode, **kwargs)
        path = self._strip_protocol(path)
        self.opened_for_write.append(path)
        file = QuotaFile(self, path)
        file.commit()  # visible at once, as a growing object
        return file

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        self.copied.append((self._strip_protocol(path1), self._strip_protocol(path2)))
        super().cp_file(path1, path2, **kwargs)


@pytest.fixture
def quota_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], QuotaFileSystem]]:
    """``storage_base=memory://exports``, served by a fresh :class:`QuotaFileSystem`."""
    from airflow.sdk.io import store

    monkeypatch.setenv("AIRFLOW__THREATSTREAM__STORAGE_BASE", "memory://exports")
    saved = store._STORE_CACHE.pop("memory", None)

    def make(quota: int) -> QuotaFileSystem:
        fs = QuotaFileSystem(quota)
        store._STORE_CACHE.pop("memory", None)
        store.attach(protocol="memory", fs=fs)
        return fs

    yield make
    store._STORE_CACHE.pop("memory", None)
    if saved is not None:
        store._STORE_CACHE["memory"] = saved


@pytest.mark.dagrun
def test_object_store_full_mid_bundle_leaves_no_bundle(
    airflow_db: Path,
    merged_view: MergedViewHook,
    quota_store: Callable[[int], QuotaFileSystem],
    fault_case: FaultCase,
) -> None:
    fs = quota_store(12_000)  # the bundle of 41 objects is ~40 KB
    outcome = run_export(run_conf=window())
    assert outcome.state == "failed"
    names = sorted(fs.store)
    assert not [name for name in names if name.endswith("bundle.json")], names
    assert not [name for name in names if name.endswith(".part")], names  # temporary removed
    assert all(".part" in path for path in fs.opened_for_write), fs.opened_for_write
    fault_case(
        "STIX export: object store full after 12 KB of a ~40 KB bundle (ENOSPC mid-stream)",
        "task fails; no bundle.json (complete or partial) at the final path, temporary object removed",
        f"failed after {outcome.tries['export']} tries; objects left: {names or 'none'}",
    )

    # With room, the same store gets the bundle by one server-side copy of the complete object.
    fs = quota_store(10_000_000)
    outcome = run_export(run_conf=window())
    assert outcome.succeeded
    result = outcome.results["export"]
    final = result["uri"].removeprefix("memory://")
    (source, target), *_ = fs.copied
    assert target.endswith(final)
    assert ".part" in source
    assert not any(path.endswith("bundle.json") for path in fs.opened_for_write)
    stored = fs.store[target].getvalue()
    assert len(stored) == result["bytes"]
    assert len(json.loads(stored)["objects"]) == 1 + 41  # identity + every document
    assert [name for name in fs.store if name.endswith(".part")] == []
    fault_case(
        "STIX export to an object store where rename is copy + delete",
        "the final object is created whole by one copy of the complete temporary object; "
        "never opened for writing",
        f"published {result['bytes']} bytes by copy; final path never written piece by piece",
    )


#: Runs the export operator with a file-size limit on the process (the real local file
#: system refuses to grow any file past it: EFBIG, as a full disk refuses with ENOSPC).
EXPORT_UNDER_LIMIT = """
import json, resource, signal, sys
from threatstream.operators.stix_export import StixExportOperator
limit = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
operator = StixExportOperator(
    task_id="export", since=sys.argv[2], until=sys.argv[3], storage_base=sys.argv[4]
)
try:
    result = operator.execute({"run_id": "manual__disk_full"})
except OSError as err:
    print(json.dumps({"error": f"{type(err).__name__}: errno {err.errno}"}))
    sys.exit(5)
print(json.dumps(result))
"""


def test_local_disk_limit_mid_bundle_leaves_no_bundle(
    merged_view: MergedViewHook, tmp_path: Path, fault_case: FaultCase
) -> None:
    since, until = window().values()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")])}

    def export(limit: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", EXPORT_UNDER_LIMIT, str(limit), since, until, tmp_path.as_uri()],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )

    failed = export(16 * 1024)
    assert failed.returncode == 5, failed.stderr[-3000:]
    error = json.loads(failed.stdout.splitlines()[-1])["error"]
    assert f"errno {errno.EFBIG}" in error
    left = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert left == [], left
    fault_case(
        "STIX export: local disk refuses to grow the bundle past 16 KiB (RLIMIT_FSIZE, EFBIG)",
        "task fails; no bundle.json at the final path, no temporary file left",
        f"{error}; files left: none",
    )

    done = export(64 * 1024 * 1024)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    bundle = Path(result["uri"].removeprefix("file://"))
    assert [path.name for path in bundle.parent.iterdir()] == ["bundle.json"]
    assert len(json.loads(bundle.read_text(encoding="utf-8"))["objects"]) == 1 + 41


@pytest.mark.dagrun
def test_an_unmappable_merged_document_is_skipped_and_reported(
    airflow_db: Path, merged_view: MergedViewHook, fault_case: FaultCase
) -> None:
    import stix2

    document, _ = merged_view.read_merged("IPv4", "94.156.8.10")
    assert document is not None
    broken_ids = []
    for value, drop in (("203.0.113.1", "first_seen"), ("203.0.113.2", "sources")):
        broken = {key: item for key, item in document.items() if not key.startswith("_")}
        broken.update(id=f"IPv4:broken-{value}", indicator_value=value)
        del broken[drop]
        merged_view.get_container().upsert_item(broken)
        broken_ids.append(broken["id"])

    outcome = run_export(run_conf=window())
    assert outcome.succeeded
    result = outcome.results["export"]
    assert (result["documents"], result["indicators"], result["vulnerabilities"]) == (43, 40, 1)
    assert result["unmappable"] == 2
    reasons = {item["id"]: item["reason"] for item in result["unmappable_examples"]}
    assert set(reasons) == set(broken_ids)
    assert "first_seen" in reasons[broken_ids[0]]
    assert "sources" in reasons[broken_ids[1]]
    text = Path(result["uri"].removeprefix("file://")).read_text(encoding="utf-8")
    bundle = stix2.parse(text, allow_custom=True)
    assert sum(obj.type == "indicator" for obj in bundle.objects) == 40
    assert "203.0.113." not in text
    fault_case(
        "STIX export: merged documents without first_seen / without sources in the window",
        "export succeeds; the two are left out, counted (unmappable) and reported with id and "
        "reason; the rest is exported",
        f"success; unmappable={result['unmappable']} ({'; '.join(sorted(reasons.values()))[:160]}); "
        f"{result['indicators']} indicators + {result['vulnerabilities']} vulnerability exported",
    )


# -- the lookup CLI --------------------------------------------------------------------


def run_cli(*args: str, connection: dict[str, Any] | None) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")])}
    env.pop("AIRFLOW_CONN_THREATSTREAM_COSMOS", None)
    if connection is not None:
        env["AIRFLOW_CONN_THREATSTREAM_COSMOS"] = json.dumps(connection)
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "threatstream.cli", "lookup", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    return completed, time.monotonic() - started


def assert_one_safe_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The failure is one bounded line on stderr: no traceback, no key, nothing on stdout."""
    assert SECRET_KEY not in completed.stdout + completed.stderr
    assert SECRET_KEY[:24] not in completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    (line,) = completed.stderr.splitlines()
    assert len(line) <= MAX_LINE
    assert completed.stdout == ""
    return line


def connection_to(url: str, key: str = SECRET_KEY) -> dict[str, Any]:
    return {"conn_type": "azure_cosmos", "login": url, "password": key, "extra": {"database_name": "x"}}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_lookup_with_the_store_unreachable(fault_case: FaultCase) -> None:
    completed, seconds = run_cli(
        "94.156.8.244", connection=connection_to(f"https://127.0.0.1:{closed_port()}/")
    )
    assert completed.returncode == 3
    line = assert_one_safe_line(completed)
    assert "cannot be reached" in line
    fault_case(
        "lookup: store endpoint is a closed port",
        "exit 3 (store error), one line on stderr, no traceback, no key",
        f"exit 3 after {seconds:.1f}s: {line}",
    )


class SilentStore:
    """Accepts TCP connections and never answers; counts them."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


def test_lookup_with_a_store_that_never_answers(fault_case: FaultCase) -> None:
    store = SilentStore()
    try:
        completed, seconds = run_cli("94.156.8.244", connection=connection_to(store.url))
    finally:
        store.close()
    assert completed.returncode == 3
    line = assert_one_safe_line(completed)
    assert "timed out" in line
    # Two short probes of the account, then the read and one retry: bounded, not minutes.
    assert len(store.accepted) <= 4
    fault_case(
        "lookup: store accepts connections and never answers",
        "exit 3 after a bounded number of attempts with short timeouts; one line, no key",
        f"exit 3 after {seconds:.1f}s and {len(store.accepted)} connections: {line}",
    )


def test_lookup_without_a_connection(fault_case: FaultCase) -> None:
    completed, seconds = run_cli("94.156.8.244", connection=None)
    assert completed.returncode == 3
    line = assert_one_safe_line(completed)
    assert "AIRFLOW_CONN_THREATSTREAM_COSMOS" in line
    fault_case(
        "lookup: no threatstream_cosmos connection",
        "exit 3 (configuration error), one line naming the connection",
        f"exit 3 after {seconds:.1f}s: {line}",
    )


def test_lookup_with_a_malformed_key(cosmos_server: CosmosEmulator, fault_case: FaultCase) -> None:
    key = SECRET_KEY[:-3] + "!"  # not base64: the request cannot be signed
    completed, _ = run_cli("94.156.8.244", connection=connection_to(cosmos_server.url, key))
    assert completed.returncode == 3
    assert key not in completed.stdout + completed.stderr
    line = assert_one_safe_line(completed)
    fault_case(
        "lookup: account key that is not base64, against the local Cosmos server",
        "exit 3, one line; the key never printed",
        f"exit 3: {line}",
    )


@pytest.mark.parametrize(
    ("value", "case"),
    [
        ("x" * 120_000, "a 120 KB value (near the largest argument Linux passes)"),
        ("!" * 30_000, "a 30 KB value of no known type"),
        ("10.0.0.1", "a private address"),
    ],
    ids=["oversized", "unknown_type", "non_global"],
)
def test_lookup_of_an_invalid_value(value: str, case: str, fault_case: FaultCase) -> None:
    # The store is unreachable: a value refused before any connection is made exits 2 anyway.
    completed, seconds = run_cli(value, connection=connection_to(f"https://127.0.0.1:{closed_port()}/"))
    assert completed.returncode == 2
    line = assert_one_safe_line(completed)
    assert "invalid value" in line
    fault_case(
        f"lookup: {case}",
        "exit 2 (invalid value) before the store is contacted; one line of at most 300 characters",
        f"exit 2 after {seconds:.1f}s, {len(line)}-character line: {line[:120]}",
    )
