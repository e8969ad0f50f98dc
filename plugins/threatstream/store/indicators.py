"""The indicator store: Azure Cosmos DB (NoSQL API) through the Microsoft Azure provider.

:class:`IndicatorStoreHook` subclasses the provider's ``AzureCosmosDBHook`` for its
connection handling (endpoint, key or managed identity, database/collection extras) and
replaces its unsafe write and query helpers: documents carry deterministic ids, writes go
in transactional batches per partition key at bounded concurrency, and queries are always
parameterized.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import tenacity
from airflow.providers.microsoft.azure.hooks.cosmos import AzureCosmosDBHook
from airflow.providers.microsoft.azure.utils import get_field, get_sync_default_azure_credential
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos._retry_options import RetryOptions
from azure.cosmos.exceptions import CosmosBatchOperationError, CosmosHttpResponseError

from threatstream.batches.collection import fewer_collections
from threatstream.exceptions import StoreAuthError

#: A transactional batch holds at most 100 operations, all on one partition key.
MAX_BATCH_OPERATIONS = 100
#: Keep batch payloads well under the service's 2 MB request limit.
MAX_BATCH_BYTES = 1_000_000
#: Cosmos statuses worth retrying: timeout, throttled, write conflict, server busy/unavailable.
TRANSIENT_STATUSES = frozenset({408, 429, 449, 500, 502, 503, 504})
#: The store refused the document itself (bad request, too large): retrying cannot help.
REFUSED_STATUSES = frozenset({400, 413})

_T = TypeVar("_T")

DEFAULT_DATABASE = "threatstream"
DEFAULT_CONTAINER = "indicators"


def _container_settings_path() -> Path:
    configured = os.environ.get("THREATSTREAM_CONTAINER_SETTINGS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "include" / "cosmos" / "container.json"


def load_container_settings(path: Path | None = None) -> dict[str, Any]:
    """Container settings (partition key path, default TTL, indexing policy) from ``include/``."""
    settings_path = path or _container_settings_path()
    try:
        settings: dict[str, Any] = json.loads(settings_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Cosmos container settings not found at {settings_path}; deploy include/cosmos/container.json "
            "with the DAGs or point THREATSTREAM_CONTAINER_SETTINGS at it."
        ) from None
    return settings


@dataclass(frozen=True)
class Batch:
    """Documents that share one partition key and fit one transactional batch."""

    partition_key: str
    documents: tuple[Mapping[str, Any], ...]


def plan_batches(
    documents: Iterable[Mapping[str, Any]],
    *,
    pk_field: str = "partition_key",
    max_operations: int = MAX_BATCH_OPERATIONS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[Batch]:
    """Group documents by partition key into batches within the service's limits.

    A document id seen twice keeps its last version only: a batch must not touch one
    item twice.
    """
    by_key: dict[str, dict[str, Mapping[str, Any]]] = {}
    for document in documents:
        by_key.setdefault(str(document[pk_field]), {})[str(document["id"])] = document
    batches: list[Batch] = []
    for key, docs in by_key.items():
        current: list[Mapping[str, Any]] = []
        size = 0
        for document in docs.values():
            doc_size = len(orjson.dumps(document, default=str))
            if current and (len(current) >= max_operations or size + doc_size > max_bytes):
                batches.append(Batch(key, tuple(current)))
                current, size = [], 0
            current.append(document)
            size += doc_size
        if current:
            batches.append(Batch(key, tuple(current)))
    return batches


def stream_batches(
    documents: Iterable[Mapping[str, Any]],
    *,
    max_buffered: int = 25_000,
    pk_field: str = "partition_key",
    max_operations: int = MAX_BATCH_OPERATIONS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[Batch]:
    """Group a stream of documents into batches per partition key, full whenever possible.

    A batch is released as soon as its partition key has ``max_operations`` documents (or
    its next document would pass ``max_bytes``); when more than ``max_buffered`` documents
    wait, the fullest partial batches go out until half of them do, so memory stays bounded
    however many partition keys the stream spreads over. The rest goes out at the end. An
    id repeated within a waiting batch keeps its last version (``validate`` writes each id
    once per batch file, so ids do not repeat across batches).

    Waiting documents are held as JSON (which also gives their size) and decoded again when
    their batch is released: each batch holds new dicts equal to the documents as JSON,
    which the caller owns. A document JSON cannot encode raises ``orjson.JSONEncodeError``.
    """
    planned = _plan(
        _document_entries(documents, pk_field),
        max_buffered=max_buffered,
        max_operations=max_operations,
        max_bytes=max_bytes,
    )
    for batch in planned:
        yield batch.decoded()


@dataclass(frozen=True)
class _EncodedBatch:
    """A planned batch whose documents are still JSON."""

    partition_key: str
    lines: tuple[bytes, ...]

    def decoded(self) -> Batch:
        return Batch(self.partition_key, tuple(map(orjson.loads, self.lines)))


#: What the planner needs of a document: partition key, id and the document as JSON.
_Entry = tuple[str, str, bytes]


def _document_entries(documents: Iterable[Mapping[str, Any]], pk_field: str) -> Iterator[_Entry]:
    for document in documents:
        line = orjson.dumps(document if isinstance(document, dict) else dict(document))
        yield str(document[pk_field]), str(document["id"]), line


def _line_entries(lines: Iterable[bytes], pk_field: str) -> Iterator[_Entry]:
    """Entries of JSON lines, each sent as read: its key and id read off the line.

    A line that starts as the batch encoder writes documents (``{"id":"...","<pk_field>":"..."``,
    both values printable ASCII with nothing escaped) gives both at once; any other line is
    decoded for them.
    """
    decode = orjson.loads
    plain = rb'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"'  # no quote, backslash or control character
    leading = re.compile(rb'\{"id":%s,"%s":%s' % (plain, re.escape(pk_field.encode()), plain))
    for line in lines:
        match = leading.match(line)
        if match is not None:
            document_id, key = match.groups()
            yield key.decode("ascii"), document_id.decode("ascii"), line
            continue
        document = decode(line)
        yield str(document[pk_field]), str(document["id"]), line


def _plan(
    entries: Iterable[_Entry], *, max_buffered: int, max_operations: int, max_bytes: int
) -> Iterator[_EncodedBatch]:
    """The planning of :func:`stream_batches`.

    Waiting documents are kept as JSON bytes, which the garbage collector does not track:
    tens of thousands of them as dicts and lists would be walked by every collection and,
    as they age, make the interpreter run full collections over the whole heap.
    """
    waiting: dict[str, dict[str, bytes]] = {}  # partition key -> id -> JSON
    sizes: dict[str, int] = {}  # partition key -> bytes waiting
    buffered = 0

    def release(key: str) -> _EncodedBatch:
        nonlocal buffered
        lines = waiting.pop(key)
        del sizes[key]
        buffered -= len(lines)
        return _EncodedBatch(key, tuple(lines.values()))

    for key, document_id, line in entries:
        group = waiting.get(key)
        previous = None if group is None else group.get(document_id)
        if group is not None and previous is None and sizes[key] + len(line) > max_bytes:
            yield release(key)
            group = None
        if group is None:
            group = waiting[key] = {}
            sizes[key] = 0
        group[document_id] = line
        if previous is None:
            sizes[key] += len(line)
            buffered += 1
        else:
            sizes[key] += len(line) - len(previous)
        if len(group) >= max_operations:
            yield release(key)
        elif buffered > max_buffered:
            for fullest in sorted(waiting, key=lambda k: len(waiting[k]), reverse=True):
                if buffered <= max_buffered // 2:
                    break
                yield release(fullest)
    for key in list(waiting):
        yield release(key)


@dataclass
class WriteStats:
    """What a write achieved. ``failed`` counts every document not written, ``refused`` the
    part of them the store refused for their own content (400/413: retrying cannot help)."""

    attempted: int = 0
    written: int = 0
    failed: int = 0
    batches: int = 0
    request_charge: float = 0.0
    throttled: int = 0
    peak_concurrency: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: WriteStats) -> None:
        self.attempted += other.attempted
        self.written += other.written
        self.failed += other.failed
        self.batches += other.batches
        self.request_charge += other.request_charge
        self.throttled += other.throttled
        self.peak_concurrency = max(self.peak_concurrency, other.peak_concurrency)
        self.failures.extend(other.failures[: max(0, 20 - len(self.failures))])
        self.refused.extend(other.refused)


class AdaptiveConcurrency:
    """How many batches may be in flight: AIMD, as TCP does with its congestion window, with
    TCP Vegas's check that more in flight still means more written.

    Every ``limit`` clean batches raise the limit by one, up to ``maximum``, while the store
    keeps up: each window compares its mean time per operation with the fastest seen, which
    estimates how many batches wait in a queue (``limit * (1 - fastest / mean)``). With
    more than :attr:`QUEUED_TO_GROW` waiting the limit holds, and with more than
    :attr:`QUEUED_TO_SHRINK` it drops by one: a store (or client) already at its capacity
    only gets slower with more requests in flight. Throttling (429) halves the limit, at
    most once until a batch completes cleanly again, so one burst of 429s from the batches
    already in flight counts as one signal.
    """

    QUEUED_TO_GROW = 2.0
    QUEUED_TO_SHRINK = 4.0

    def __init__(self, maximum: int, initial: int = 2) -> None:
        self.maximum = max(1, maximum)
        self.limit = max(1, min(initial, self.maximum))
        self.peak = 0
        self._in_flight = 0
        self._clean = 0
        self._window_seconds = 0.0
        self._window_operations = 0
        self._fastest = float("inf")  # seconds per operation
        self._backed_off = False
        self._changed = threading.Condition()

    def acquire(self) -> None:
        """Wait for a free slot and take it."""
        with self._changed:
            while self._in_flight >= self.limit:
                self._changed.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)

    def release(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def succeeded(self, seconds: float = 0.0, operations: int = 0) -> None:
        """A batch of ``operations`` went through in ``seconds`` without throttling; at the end
        of a window of clean batches, grow by one unless requests queue (see the class)."""
        with self._changed:
            self._backed_off = False
            self._clean += 1
            if operations > 0:
                self._window_seconds += seconds
                self._window_operations += operations
                self._fastest = min(self._fastest, seconds / operations)
            if self._clean < self.limit:
                return
            queued = self._queued()
            if queued > self.QUEUED_TO_SHRINK and self.limit > 1:
                self.limit -= 1
            elif queued <= self.QUEUED_TO_GROW and self.limit < self.maximum:
                self.limit += 1
                self._changed.notify_all()
            self._clean = 0
            self._window_seconds, self._window_operations = 0.0, 0

    def _queued(self) -> float:
        """Batches estimated to be waiting in this window (0 when no time was measured)."""
        if not self._window_operations or not self._window_seconds:
            return 0.0
        mean = self._window_seconds / self._window_operations
        return self.limit * (1 - self._fastest / mean)

    def throttled(self) -> None:
        """The store answered 429: halve the limit (once per burst)."""
        with self._changed:
            self._clean = 0
            self._window_seconds, self._window_operations = 0.0, 0
            if not self._backed_off:
                self.limit = max(1, self.limit // 2)
                self._backed_off = True


def _status(error: BaseException) -> int | None:
    return error.status_code if isinstance(error, CosmosHttpResponseError) else None


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    return _status(error) in TRANSIENT_STATUSES


def _retry_after(error: BaseException, default: float, ceiling: float) -> float:
    """The wait a 429 asks for (``x-ms-retry-after-ms``), else ``default``; at most ``ceiling``."""
    headers = getattr(error, "headers", None) or {}
    try:
        wait = float(headers.get("x-ms-retry-after-ms", "")) / 1000
    except (TypeError, ValueError):
        wait = default
    return min(max(wait, 0.0), ceiling)


def _request_charge(headers: Mapping[str, Any] | None) -> float:
    try:
        return float((headers or {}).get("x-ms-request-charge", 0.0))
    except (TypeError, ValueError):
        return 0.0


def _refusal(document: Mapping[str, Any], error: CosmosHttpResponseError) -> dict[str, Any]:
    """A store-quarantine entry: which document, the status and the store's reason (bounded)."""
    message = str(getattr(error, "message", "") or error).splitlines()[0][:500]
    return {
        "id": document.get("id"),
        "partition_key": document.get("partition_key"),
        "status": error.status_code,
        "sub_status": getattr(error, "sub_status", None),
        "reason": message,
    }


class IndicatorStoreHook(AzureCosmosDBHook):
    """Cosmos DB container of canonical indicators.

    :param azure_cosmos_conn_id: connection (conn type ``azure_cosmos``): login = account
        endpoint, password = key; extras ``database_name`` (default ``threatstream``) and
        ``collection_name`` (default ``indicators``).
    :param max_concurrency: most transactional batches in flight at once; the write starts
        lower and adapts to throttling (:class:`AdaptiveConcurrency`).
    :param max_attempts: attempts per request for transient failures (408, 449, 5xx,
        dropped connections).
    :param max_throttle_retries: retries per request answered 429, each after the wait the
        store asks for (at most ``max_retry_after`` seconds).
    """

    default_conn_name = "threatstream_cosmos"
    hook_name = "ThreatStream Cosmos DB store"

    def __init__(
        self,
        azure_cosmos_conn_id: str = default_conn_name,
        *,
        max_concurrency: int = 8,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        max_throttle_retries: int = 20,
        max_retry_after: float = 30.0,
    ) -> None:
        super().__init__(azure_cosmos_conn_id=azure_cosmos_conn_id)
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.max_throttle_retries = max_throttle_retries
        self.max_retry_after = max_retry_after
        self._container: ContainerProxy | None = None
        # The SDK logs every request's headers at INFO; keep task logs readable.
        for name in (
            "azure.core.pipeline.policies.http_logging_policy",
            "azure.cosmos._cosmos_http_logging_policy",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)

    def get_conn(self) -> CosmosClient:
        """The Cosmos client; with no key and no management-API extras, signed in with Entra ID.

        A connection with a password uses it as the account key, and one with
        ``resource_group_name`` reads the key through the management API (both the provider's
        routes). Otherwise the client authenticates data-plane requests with Microsoft Entra ID
        (``DefaultAzureCredential``: managed identity, workload identity, environment, ...),
        honouring the ``managed_identity_client_id`` and ``workload_identity_tenant_id`` extras;
        no key exists anywhere. The identity needs a Cosmos DB data-plane role on the account.
        """
        if self._conn is None:
            conn = self.get_connection(self.conn_id)
            extras = conn.extra_dejson

            def field(name: str) -> Any:
                return get_field(
                    conn_id=self.conn_id, conn_type=self.conn_type, extras=extras, field_name=name
                )

            if not conn.password and not field("resource_group_name"):
                if not conn.login:
                    raise StoreAuthError(f"Cosmos DB ({self.conn_id}): no endpoint (login) in the connection")
                credential = get_sync_default_azure_credential(
                    managed_identity_client_id=field("managed_identity_client_id"),
                    workload_identity_tenant_id=field("workload_identity_tenant_id"),
                )
                self.default_database_name = field("database_name")
                self.default_collection_name = field("collection_name")
                self.default_partition_key = field("partition_key")
                self._conn = CosmosClient(conn.login, credential=credential)
        return super().get_conn()

    @property
    def database_name(self) -> str:
        self.get_conn()
        return self.default_database_name or DEFAULT_DATABASE

    @property
    def container_name(self) -> str:
        self.get_conn()
        return self.default_collection_name or DEFAULT_CONTAINER

    def container_settings(self) -> dict[str, Any]:
        """Partition key path, default TTL and indexing policy of :attr:`container_name`."""
        return load_container_settings()

    def get_container(self) -> ContainerProxy:
        """The hook's container, creating the database and container when missing.

        Tasks starting together may race to create them: a 409 (created meanwhile by another
        task) is followed by one more ``create_*_if_not_exists``, which then finds them.
        """
        if self._container is None:
            settings = self.container_settings()
            for attempt in (1, 2):
                try:
                    database = self.get_conn().create_database_if_not_exists(self.database_name)
                    self._container = database.create_container_if_not_exists(
                        id=self.container_name,
                        partition_key=PartitionKey(path=settings["partition_key_path"]),
                        default_ttl=settings.get("default_ttl", -1),
                        indexing_policy=settings.get("indexing_policy"),
                    )
                    break
                except CosmosHttpResponseError as err:
                    if err.status_code == 409 and attempt == 1:
                        continue
                    raise self._classify(err, "preparing the database and container") from None
        assert self._container is not None
        return self._container

    def _classify(self, error: CosmosHttpResponseError, doing: str) -> Exception:
        message = f"Cosmos DB ({self.conn_id}): HTTP {error.status_code} while {doing}"
        if error.status_code in (401, 403):
            return StoreAuthError(f"{message}; check the key or identity of the connection.")
        return error

    # -- writes ------------------------------------------------------------------------

    def upsert_documents(
        self, documents: Iterable[Mapping[str, Any]], *, chunk_size: int = 25_000
    ) -> WriteStats:
        """Upsert documents (each with ``id`` and ``partition_key``) in transactional batches.

        Streams ``documents`` through the planning of :func:`stream_batches`, holding at most
        ``chunk_size`` of them (as JSON) while batches fill up, so memory stays flat whatever
        the feed's size and batches are full whenever a partition key has enough documents
        (there are 256 partition keys per indicator type). Batches run on a thread pool at a
        concurrency that adapts to throttling; the planning runs up to twice the pool's size
        of batches ahead, so a finished batch is followed at once by the next. A batch the
        service refuses as a whole is retried one document at a time, so one bad document
        costs only itself; failures and refusals are counted, not raised.
        """
        return self._upsert(_document_entries(documents, "partition_key"), chunk_size)

    def upsert_json_lines(self, lines: Iterable[bytes], *, chunk_size: int = 25_000) -> WriteStats:
        """:meth:`upsert_documents` for documents given as JSON lines, such as the lines of a
        batch's ``valid.jsonl`` (:func:`threatstream.batches.storage.read_lines`).

        Each line is kept as read until its batch is written, and decoded then; its id and
        partition key are read off the line (see :func:`_line_entries`).
        """
        return self._upsert(_line_entries(lines, "partition_key"), chunk_size)

    def _upsert(self, entries: Iterable[_Entry], chunk_size: int) -> WriteStats:
        container = self.get_container()
        stats = WriteStats()
        limiter = AdaptiveConcurrency(self.max_concurrency)
        pending: set[Future[WriteStats]] = set()
        ahead = threading.BoundedSemaphore(2 * limiter.maximum)

        def collect(*, wait_all: bool) -> None:
            finished = set(wait(pending)[0]) if wait_all else {f for f in pending if f.done()}
            pending.difference_update(finished)
            for future in finished:
                stats.merge(future.result())

        with (
            fewer_collections(),
            self._sdk_throttle_retries_disabled(container),
            ThreadPoolExecutor(max_workers=limiter.maximum, thread_name_prefix="cosmos-batch") as pool,
        ):
            planned = _plan(
                entries,
                max_buffered=chunk_size,
                max_operations=MAX_BATCH_OPERATIONS,
                max_bytes=MAX_BATCH_BYTES,
            )
            for batch in planned:
                ahead.acquire()
                future = pool.submit(self._write_batch, container, batch, limiter)
                future.add_done_callback(lambda _: ahead.release())
                pending.add(future)
                collect(wait_all=False)
            collect(wait_all=True)
        stats.peak_concurrency = limiter.peak
        return stats

    @contextmanager
    def _sdk_throttle_retries_disabled(self, container: ContainerProxy) -> Iterator[None]:
        """Let 429s reach this hook, which backs off its concurrency and honours the wait."""
        policy = container.client_connection.connection_policy
        saved = policy.RetryOptions
        policy.RetryOptions = RetryOptions(max_retry_attempt_count=0)
        try:
            yield
        finally:
            policy.RetryOptions = saved

    def _call(
        self,
        limiter: AdaptiveConcurrency,
        stats: WriteStats,
        function: Callable[[], _T],
        *,
        operations: int = 0,
    ) -> _T:
        """Run one store request: 429s wait as asked (and shrink the concurrency), other
        transient errors back off exponentially; both are bounded. A request of ``operations``
        (a batch) reports its time to the limiter."""
        throttles = failures = 0
        while True:
            started = time.perf_counter()
            try:
                result = function()
            except Exception as err:
                if _status(err) == 429 and throttles < self.max_throttle_retries:
                    throttles += 1
                    stats.throttled += 1
                    limiter.throttled()
                    time.sleep(_retry_after(err, self.backoff_initial, self.max_retry_after))
                    continue
                if _is_transient(err) and _status(err) != 429 and failures + 1 < self.max_attempts:
                    failures += 1
                    time.sleep(min(self.backoff_initial * 2 ** (failures - 1), 30.0))
                    continue
                raise
            if throttles == 0:
                limiter.succeeded(time.perf_counter() - started, operations)
            return result

    def _write_batch(
        self, container: ContainerProxy, batch: _EncodedBatch, limiter: AdaptiveConcurrency
    ) -> WriteStats:
        limiter.acquire()
        try:
            # Decoded only now: documents live as dicts only while their batch is written.
            return self._write_batch_once(container, batch.decoded(), limiter)
        finally:
            limiter.release()

    def _write_batch_once(
        self, container: ContainerProxy, batch: Batch, limiter: AdaptiveConcurrency
    ) -> WriteStats:
        # The batch was decoded for this write: its dicts are its own, no copy needed.
        operations = [("upsert", (document,)) for document in batch.documents]
        stats = WriteStats(attempted=len(operations), batches=1)

        def charged(headers: Mapping[str, Any], _results: object) -> None:
            # The SDK adds keys to the latest response's headers from other threads: read the
            # one value here rather than copy them (``get_response_headers``) afterwards.
            stats.request_charge = _request_charge(headers)

        try:
            self._call(
                limiter,
                stats,
                lambda: container.execute_item_batch(
                    batch_operations=operations, partition_key=batch.partition_key, response_hook=charged
                ),
                operations=len(operations),
            )
        except CosmosBatchOperationError as err:
            self.log.warning(
                "Batch of %d on partition %s refused (operation %s: %s); writing one by one",
                len(operations),
                batch.partition_key,
                err.error_index,
                err.status_code,
            )
            return self._write_individually(container, batch, stats, limiter)
        except CosmosHttpResponseError as err:
            if err.status_code in (401, 403):
                raise self._classify(err, "writing a batch") from None
            if _is_transient(err):
                return self._failed(stats, batch.documents, f"HTTP {err.status_code} after retries")
            return self._write_individually(container, batch, stats, limiter)
        except (ServiceRequestError, ServiceResponseError) as err:
            return self._failed(stats, batch.documents, type(err).__name__)
        stats.written = len(operations)
        return stats

    def _write_individually(
        self, container: ContainerProxy, batch: Batch, stats: WriteStats, limiter: AdaptiveConcurrency
    ) -> WriteStats:
        for document in batch.documents:
            body = dict(document)
            try:
                self._call(limiter, stats, lambda body=body: container.upsert_item(body))  # type: ignore[misc]
                stats.written += 1
            except CosmosHttpResponseError as err:
                if err.status_code in (401, 403):
                    raise self._classify(err, "writing a document") from None
                self._failed(stats, [document], f"HTTP {err.status_code}")
                if err.status_code in REFUSED_STATUSES:
                    stats.refused.append(_refusal(document, err))
            except (ServiceRequestError, ServiceResponseError) as err:
                self._failed(stats, [document], type(err).__name__)
        return stats

    def _retrying(self) -> tenacity.Retrying:
        """In-call retries of transient failures for single-document reads and writes."""
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential(multiplier=self.backoff_initial, max=30),
            retry=tenacity.retry_if_exception(_is_transient),
            reraise=True,
        )

    def _failed(self, stats: WriteStats, documents: Sequence[Mapping[str, Any]], reason: str) -> WriteStats:
        stats.failed += len(documents)
        for document in documents[:20]:
            stats.failures.append({"id": document.get("id"), "reason": reason})
        return stats

    # -- reads -------------------------------------------------------------------------

    def query(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        partition_key: str | None = None,
    ) -> Iterator[Any]:
        """Run a parameterized query (``@name`` placeholders), scoped to one partition if given.

        Yields documents, or values for ``SELECT VALUE`` queries.
        """
        params = [{"name": name, "value": value} for name, value in (parameters or {}).items()]
        if partition_key is None:
            items = self.get_container().query_items(
                query, parameters=params, enable_cross_partition_query=True
            )
        else:
            items = self.get_container().query_items(query, parameters=params, partition_key=partition_key)
        yield from items

    def count(self, source: str | None = None) -> int:
        """Number of documents, optionally of one source."""
        if source is None:
            result = self.query("SELECT VALUE COUNT(1) FROM c")
        else:
            result = self.query("SELECT VALUE COUNT(1) FROM c WHERE c.source = @source", {"@source": source})
        return sum(int(value) for value in result)

    def read_indicator(self, document_id: str, partition_key: str) -> dict[str, Any] | None:
        """A point read by id and partition key; None when absent."""
        try:
            item: dict[str, Any] = self.get_container().read_item(document_id, partition_key=partition_key)
        except CosmosHttpResponseError as err:
            if err.status_code == 404:
                return None
            raise
        return item
