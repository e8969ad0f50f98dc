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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import tenacity
from airflow.providers.microsoft.azure.hooks.cosmos import AzureCosmosDBHook
from airflow.providers.microsoft.azure.utils import get_field, get_sync_default_azure_credential
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos.exceptions import CosmosBatchOperationError, CosmosHttpResponseError

from threatstream.exceptions import StoreAuthError

#: A transactional batch holds at most 100 operations, all on one partition key.
MAX_BATCH_OPERATIONS = 100
#: Keep batch payloads well under the service's 2 MB request limit.
MAX_BATCH_BYTES = 1_000_000
#: Cosmos statuses worth retrying: timeout, throttled, write conflict, server busy/unavailable.
TRANSIENT_STATUSES = frozenset({408, 429, 449, 500, 503})

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
            doc_size = len(json.dumps(document, separators=(",", ":"), default=str).encode("utf-8"))
            if current and (len(current) >= max_operations or size + doc_size > max_bytes):
                batches.append(Batch(key, tuple(current)))
                current, size = [], 0
            current.append(document)
            size += doc_size
        if current:
            batches.append(Batch(key, tuple(current)))
    return batches


@dataclass
class WriteStats:
    """What a write achieved."""

    attempted: int = 0
    written: int = 0
    failed: int = 0
    batches: int = 0
    request_charge: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: WriteStats) -> None:
        self.attempted += other.attempted
        self.written += other.written
        self.failed += other.failed
        self.batches += other.batches
        self.request_charge += other.request_charge
        self.failures.extend(other.failures[: max(0, 20 - len(self.failures))])


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    return isinstance(error, CosmosHttpResponseError) and error.status_code in TRANSIENT_STATUSES


def _request_charge(headers: Mapping[str, Any] | None) -> float:
    try:
        return float((headers or {}).get("x-ms-request-charge", 0.0))
    except (TypeError, ValueError):
        return 0.0


class IndicatorStoreHook(AzureCosmosDBHook):
    """Cosmos DB container of canonical indicators.

    :param azure_cosmos_conn_id: connection (conn type ``azure_cosmos``): login = account
        endpoint, password = key; extras ``database_name`` (default ``threatstream``) and
        ``collection_name`` (default ``indicators``).
    :param max_concurrency: transactional batches in flight at once.
    :param max_attempts: attempts per batch for transient failures (on top of the SDK's own
        throttling retries).
    """

    default_conn_name = "threatstream_cosmos"
    hook_name = "ThreatStream Cosmos DB store"

    def __init__(
        self,
        azure_cosmos_conn_id: str = default_conn_name,
        *,
        max_concurrency: int = 4,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
    ) -> None:
        super().__init__(azure_cosmos_conn_id=azure_cosmos_conn_id)
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
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

    def get_container(self) -> ContainerProxy:
        """The indicator container, creating the database and container when missing."""
        if self._container is None:
            settings = load_container_settings()
            try:
                database = self.get_conn().create_database_if_not_exists(self.database_name)
                self._container = database.create_container_if_not_exists(
                    id=self.container_name,
                    partition_key=PartitionKey(path=settings["partition_key_path"]),
                    default_ttl=settings.get("default_ttl", -1),
                    indexing_policy=settings.get("indexing_policy"),
                )
            except CosmosHttpResponseError as err:
                raise self._classify(err, "preparing the container") from None
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

        Streams ``documents`` ``chunk_size`` at a time, so memory stays flat whatever the
        feed's size; a chunk large enough to hold ~100 documents per partition key keeps
        batches full (there are 256 partition keys per indicator type). A batch the service
        refuses as a whole is retried one document at a time, so one bad document costs only
        itself; failures are counted, not raised.
        """
        container = self.get_container()
        stats = WriteStats()
        iterator = iter(documents)
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="cosmos-batch") as pool:
            while chunk := list(islice(iterator, chunk_size)):
                for result in pool.map(
                    lambda batch: self._write_batch(container, batch), plan_batches(chunk)
                ):
                    stats.merge(result)
        return stats

    def _retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential(multiplier=self.backoff_initial, max=30),
            retry=tenacity.retry_if_exception(_is_transient),
            reraise=True,
        )

    def _write_batch(self, container: ContainerProxy, batch: Batch) -> WriteStats:
        operations = [("upsert", (dict(document),)) for document in batch.documents]
        stats = WriteStats(attempted=len(operations), batches=1)
        try:
            results = self._retrying()(
                container.execute_item_batch, batch_operations=operations, partition_key=batch.partition_key
            )
        except CosmosBatchOperationError as err:
            self.log.warning(
                "Batch of %d on partition %s refused (operation %s: %s); writing one by one",
                len(operations),
                batch.partition_key,
                err.error_index,
                err.status_code,
            )
            return self._write_individually(container, batch, stats)
        except CosmosHttpResponseError as err:
            if err.status_code in (401, 403):
                raise self._classify(err, "writing a batch") from None
            if err.status_code in TRANSIENT_STATUSES:
                return self._failed(stats, batch.documents, f"HTTP {err.status_code} after retries")
            return self._write_individually(container, batch, stats)
        except (ServiceRequestError, ServiceResponseError) as err:
            return self._failed(stats, batch.documents, type(err).__name__)
        stats.written = len(operations)
        stats.request_charge = _request_charge(results.get_response_headers())
        return stats

    def _write_individually(self, container: ContainerProxy, batch: Batch, stats: WriteStats) -> WriteStats:
        for document in batch.documents:
            try:
                self._retrying()(container.upsert_item, dict(document))
                stats.written += 1
            except CosmosHttpResponseError as err:
                if err.status_code in (401, 403):
                    raise self._classify(err, "writing a document") from None
                self._failed(stats, [document], f"HTTP {err.status_code}")
            except (ServiceRequestError, ServiceResponseError) as err:
                self._failed(stats, [document], type(err).__name__)
        return stats

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
