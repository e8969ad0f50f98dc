"""The per-source indicator store: canonical indicators in their Cosmos DB container.

:class:`IndicatorStoreHook` replaces the provider's unsafe write and query helpers: documents
carry deterministic ids, writes go in transactional batches per partition key at a
concurrency that adapts to the store, and queries are always parameterized.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy
from azure.cosmos._retry_options import RetryOptions
from azure.cosmos.exceptions import CosmosBatchOperationError, CosmosHttpResponseError

from threatstream.batches.collection import fewer_collections
from threatstream.store.base import CosmosStoreHook, is_transient, keep_failures, request_charge, status_of
from threatstream.store.concurrency import AdaptiveConcurrency
from threatstream.store.containers import DEFAULT_CONTAINER, INDICATOR_SETTINGS
from threatstream.store.planning import (
    Batch,
    EncodedBatch,
    Entry,
    document_entries,
    line_entries,
    plan_batches,
)

#: The store refused the document itself (bad request, too large): retrying cannot help.
REFUSED_STATUSES = frozenset({400, 413})

_T = TypeVar("_T")


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
        keep_failures(self.failures, other.failures)
        self.refused.extend(other.refused)


def _retry_after(error: BaseException, default: float, ceiling: float) -> float:
    """The wait a 429 asks for (``x-ms-retry-after-ms``), else ``default``; at most ``ceiling``."""
    headers = getattr(error, "headers", None) or {}
    try:
        wait = float(headers.get("x-ms-retry-after-ms", "")) / 1000
    except (TypeError, ValueError):
        wait = default
    return min(max(wait, 0.0), ceiling)


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


class IndicatorStoreHook(CosmosStoreHook):
    """The per-source container of canonical indicators (extra ``collection_name``, default
    ``indicators``).

    :param azure_cosmos_conn_id: the store connection (see :class:`CosmosStoreHook`).
    :param max_concurrency: most transactional batches in flight at once; the write starts
        lower and adapts to throttling (:class:`AdaptiveConcurrency`).
    :param max_throttle_retries: retries per request answered 429, each after the wait the
        store asks for (at most ``max_retry_after`` seconds).
    :param kwargs: ``max_attempts`` and ``backoff_initial`` (see :class:`CosmosStoreHook`).
    """

    settings_file = INDICATOR_SETTINGS

    def __init__(
        self,
        azure_cosmos_conn_id: str = CosmosStoreHook.default_conn_name,
        *,
        max_concurrency: int = 8,
        max_throttle_retries: int = 20,
        max_retry_after: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(azure_cosmos_conn_id, **kwargs)
        self.max_concurrency = max_concurrency
        self.max_throttle_retries = max_throttle_retries
        self.max_retry_after = max_retry_after

    @property
    def container_name(self) -> str:
        self.get_conn()
        return self.default_collection_name or DEFAULT_CONTAINER

    # -- writes ------------------------------------------------------------------------

    def upsert_documents(
        self, documents: Iterable[Mapping[str, Any]], *, chunk_size: int = 25_000
    ) -> WriteStats:
        """Upsert documents (each with ``id`` and ``partition_key``) in transactional batches.

        Streams ``documents`` through :func:`~threatstream.store.planning.plan_batches`, holding
        at most ``chunk_size`` of them (as JSON) while batches fill up, so memory stays flat whatever
        the feed's size and batches are full whenever a partition key has enough documents
        (there are 256 partition keys per indicator type). Batches run on a thread pool at a
        concurrency that adapts to throttling; the planning runs up to twice the pool's size
        of batches ahead, so a finished batch is followed at once by the next. A batch the
        service refuses as a whole is retried one document at a time, so one bad document
        costs only itself; failures and refusals are counted, not raised.
        """
        return self._upsert(document_entries(documents, "partition_key"), chunk_size)

    def upsert_json_lines(self, lines: Iterable[bytes], *, chunk_size: int = 25_000) -> WriteStats:
        """:meth:`upsert_documents` for documents given as JSON lines, such as the lines of a
        batch's ``valid.jsonl`` (:func:`threatstream.batches.storage.read_lines`).

        Each line is kept as read until its batch is written, and decoded then; its id and
        partition key are read off the line
        (see :func:`~threatstream.store.planning.line_entries`).
        """
        return self._upsert(line_entries(lines, "partition_key"), chunk_size)

    def _upsert(self, entries: Iterable[Entry], chunk_size: int) -> WriteStats:
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
            for batch in plan_batches(entries, max_buffered=chunk_size):
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
                if status_of(err) == 429 and throttles < self.max_throttle_retries:
                    throttles += 1
                    stats.throttled += 1
                    limiter.throttled()
                    time.sleep(_retry_after(err, self.backoff_initial, self.max_retry_after))
                    continue
                if is_transient(err) and status_of(err) != 429 and failures + 1 < self.max_attempts:
                    failures += 1
                    time.sleep(min(self.backoff_initial * 2 ** (failures - 1), 30.0))
                    continue
                raise
            if throttles == 0:
                limiter.succeeded(time.perf_counter() - started, operations)
            return result

    def _write_batch(
        self, container: ContainerProxy, batch: EncodedBatch, limiter: AdaptiveConcurrency
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
            stats.request_charge = request_charge(headers)

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
            if is_transient(err):
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

    def _failed(self, stats: WriteStats, documents: Sequence[Mapping[str, Any]], reason: str) -> WriteStats:
        stats.failed += len(documents)
        keep_failures(
            stats.failures, ({"id": document.get("id"), "reason": reason} for document in documents)
        )
        return stats

    # -- reads -------------------------------------------------------------------------

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
