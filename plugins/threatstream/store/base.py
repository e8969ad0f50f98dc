"""The Cosmos DB (NoSQL API) base hook of the store: connection, client and containers.

:class:`CosmosStoreHook` subclasses the Microsoft Azure provider's ``AzureCosmosDBHook`` for
its connection handling (endpoint, key, or the key read through the management API; database
and collection extras) and adds Microsoft Entra ID sign-in when the connection has no key,
bounded client timeouts, and containers created with the settings shipped in the package.
The per-source store (:mod:`threatstream.store.indicators`) and the merged view
(:mod:`threatstream.store.merged`) are built on it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import tenacity
from airflow.providers.microsoft.azure.hooks.cosmos import AzureCosmosDBHook
from airflow.providers.microsoft.azure.utils import get_field, get_sync_default_azure_credential
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy, CosmosClient
from azure.cosmos.exceptions import CosmosHttpResponseError

from threatstream.connections import RequiredConnection
from threatstream.exceptions import StoreAuthError
from threatstream.naming import COSMOS_CONN_ID
from threatstream.store.containers import DEFAULT_DATABASE, container_settings, ensure_container

#: Cosmos statuses worth retrying: timeout, throttled, write conflict, server busy/unavailable.
TRANSIENT_STATUSES = frozenset({408, 429, 449, 500, 502, 503, 504})
#: Seconds to connect to the store (extra ``connection_timeout``) and to wait for an answer
#: (extra ``read_timeout``) when the connection does not say.
DEFAULT_CONNECTION_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
#: Bounds of either timeout, whatever the connection says.
TIMEOUT_BOUNDS = (1.0, 300.0)


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a Cosmos error (None for any other error)."""
    return error.status_code if isinstance(error, CosmosHttpResponseError) else None


def is_transient(error: BaseException) -> bool:
    """Whether retrying the request may help: a dropped connection or a transient status."""
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    return status_of(error) in TRANSIENT_STATUSES


def request_charge(headers: Mapping[str, Any] | None) -> float:
    """The request units a response's headers report (0 when absent or unreadable)."""
    try:
        return float((headers or {}).get("x-ms-request-charge", 0.0))
    except (TypeError, ValueError):
        return 0.0


def bounded_timeout(value: object, default: float, name: str) -> float:
    """Seconds from a connection extra (``default`` when empty), within :data:`TIMEOUT_BOUNDS`."""
    if value is None or value == "":
        return default
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"Cosmos DB connection extra {name}={value!r} is not a number of seconds") from None
    low, high = TIMEOUT_BOUNDS
    return min(max(seconds, low), high)


class CosmosStoreHook(RequiredConnection, AzureCosmosDBHook):
    """A container of the store's Cosmos DB database.

    :param azure_cosmos_conn_id: connection (conn type ``azure_cosmos``): login = account
        endpoint, password = key (none: Microsoft Entra ID); extras ``database_name`` (default
        ``threatstream``), ``collection_name``, ``connection_timeout`` and ``read_timeout``
        (seconds).
    :param max_attempts: attempts per request for transient failures (408, 449, 5xx,
        dropped connections).
    :param backoff_initial: seconds before the first retry; doubled on each further one.

    Subclasses name their container (:attr:`container_name`) and its settings file
    (:attr:`settings_file`, in ``store/container_settings/``).
    """

    default_conn_name = COSMOS_CONN_ID
    hook_name = "ThreatStream Cosmos DB store"
    settings_file: ClassVar[str]

    def __init__(
        self,
        azure_cosmos_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
    ) -> None:
        super().__init__(azure_cosmos_conn_id=azure_cosmos_conn_id)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self._containers: dict[str, ContainerProxy] = {}
        # The SDK logs every request's headers at INFO; keep task logs readable.
        for name in (
            "azure.core.pipeline.policies.http_logging_policy",
            "azure.cosmos._cosmos_http_logging_policy",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)

    def get_conn(self) -> CosmosClient:
        """The Cosmos client, created once; with no key and no management-API extras, signed in
        with Microsoft Entra ID.

        A connection with a password uses it as the account key, and one with
        ``resource_group_name`` reads the key through the management API (both the provider's
        routes). Otherwise the client authenticates data-plane requests with Microsoft Entra ID
        (``DefaultAzureCredential``: managed identity, workload identity, environment, ...),
        honouring the ``managed_identity_client_id`` and ``workload_identity_tenant_id`` extras;
        no key exists anywhere. The identity needs a Cosmos DB data-plane role on the account.
        Every route's client connects and reads within the connection's bounded timeouts.
        """
        if self._conn is None:
            conn = self.get_connection(self.conn_id)
            extras = conn.extra_dejson

            def extra(name: str) -> Any:
                return get_field(
                    conn_id=self.conn_id, conn_type=self.conn_type, extras=extras, field_name=name
                )

            connection_timeout = bounded_timeout(
                extra("connection_timeout"), DEFAULT_CONNECTION_TIMEOUT, "connection_timeout"
            )
            read_timeout = bounded_timeout(extra("read_timeout"), DEFAULT_READ_TIMEOUT, "read_timeout")
            if not conn.password and not extra("resource_group_name"):
                if not conn.login:
                    raise StoreAuthError(f"Cosmos DB ({self.conn_id}): no endpoint (login) in the connection")
                credential = get_sync_default_azure_credential(
                    managed_identity_client_id=extra("managed_identity_client_id"),
                    workload_identity_tenant_id=extra("workload_identity_tenant_id"),
                )
                self.default_database_name = extra("database_name")
                self.default_collection_name = extra("collection_name")
                self.default_partition_key = extra("partition_key")
                self._conn = CosmosClient(conn.login, credential=credential)
            try:
                client = super().get_conn()
            except CosmosHttpResponseError as err:  # the client reads the account when built
                raise self._classify(err, "connecting") from None
            # Read by the SDK at every request: set once here, for whichever route built the client
            # (typed int, passed on to the transport, which takes fractions of a second too).
            policy = client.client_connection.connection_policy
            policy.RequestTimeout = connection_timeout  # type: ignore[assignment]
            policy.ReadTimeout = read_timeout
        return super().get_conn()

    @property
    def database_name(self) -> str:
        self.get_conn()
        return self.default_database_name or DEFAULT_DATABASE

    @property
    def container_name(self) -> str:
        """The hook's container."""
        raise NotImplementedError

    def container_settings(self) -> dict[str, Any]:
        """Partition key path, default TTL and indexing policy of the hook's container."""
        return container_settings(self.settings_file)

    def get_container(self) -> ContainerProxy:
        """The hook's container (:attr:`container_name`)."""
        return self.container(self.container_name)

    def container(self, name: str) -> ContainerProxy:
        """Container ``name`` of the database, cached; it and the database are created when
        missing, with :meth:`container_settings`.

        Tasks starting together may race to create them: a 409 (created meanwhile by another
        task) is followed by one more ``create_*_if_not_exists``, which then finds them.
        """
        if name not in self._containers:
            try:
                self._containers[name] = ensure_container(
                    self.get_conn(), self.database_name, name, self.container_settings()
                )
            except CosmosHttpResponseError as err:
                raise self._classify(err, "preparing the database and container") from None
        return self._containers[name]

    def query(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        partition_key: str | None = None,
    ) -> Iterator[Any]:
        """Run a parameterized query (``@name`` placeholders) on the hook's container, scoped to
        one partition if given.

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

    def _classify(self, error: CosmosHttpResponseError, doing: str) -> Exception:
        """A refused identity or key as :class:`StoreAuthError` (no retries); other errors as they are."""
        message = f"Cosmos DB ({self.conn_id}): HTTP {error.status_code} while {doing}"
        if error.status_code in (401, 403):
            return StoreAuthError(f"{message}; check the key or identity of the connection.")
        return error

    def _retrying(self) -> tenacity.Retrying:
        """In-call retries of transient failures for single-document reads and writes."""
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential(multiplier=self.backoff_initial, max=30),
            retry=tenacity.retry_if_exception(is_transient),
            reraise=True,
        )


#: Failed documents a write's result names (its counts cover every one of them).
MAX_KEPT_FAILURES = 20


def keep_failures(kept: list[dict[str, Any]], more: Iterable[dict[str, Any]]) -> None:
    """Add samples from ``more`` to ``kept`` while it holds fewer than :data:`MAX_KEPT_FAILURES`."""
    room = MAX_KEPT_FAILURES - len(kept)
    if room > 0:
        kept.extend(itertools.islice(more, room))
