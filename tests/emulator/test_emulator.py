"""The local Cosmos DB server (launcher.js) seen through the plain azure-cosmos SDK client.

Each test checks one of the fixes the launcher applies to ``@vercel/cosmosdb-server``.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey
from azure.cosmos._execution_context import execution_dispatcher
from azure.cosmos.exceptions import (
    CosmosBatchOperationError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from threatstream_dev import cosmos_emulator
from threatstream_dev.cosmos_emulator import EMULATOR_KEY, CosmosEmulator, running_emulator

pytestmark = pytest.mark.emulator


@pytest.fixture
def container(database: DatabaseProxy) -> ContainerProxy:
    """Container partitioned by /source with a few indicators in three partitions."""
    container = database.create_container("indicators", partition_key=PartitionKey("/source"))
    for i in range(9):
        source = ("urlhaus", "otx", "abuseipdb")[i % 3]
        container.upsert_item({"id": f"ind-{i}", "source": source, "score": i, "value": f"10.0.0.{i}"})
    return container


def ids(items: Any) -> list[str]:
    return sorted(item["id"] for item in items)


def doc(item_id: str, source: str = "urlhaus", **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "source": source, **fields}


# --------------------------------------------------------------------------- connection handling


def test_plain_client_uses_advertised_http_endpoint(emulator: CosmosEmulator, client: CosmosClient) -> None:
    """With --no-ssl the account metadata advertises http://, so endpoint discovery works."""
    account = client.client_connection._global_endpoint_manager._GetDatabaseAccount()
    endpoints = [
        loc["databaseAccountEndpoint"] for loc in account.WritableLocations + account.ReadableLocations
    ]
    assert endpoints
    assert all(endpoint == emulator.url for endpoint in endpoints)
    assert emulator.url.startswith("http://127.0.0.1:")
    assert isinstance(list(client.list_databases()), list)


def test_keep_alive_reuses_connections(emulator: CosmosEmulator, database: DatabaseProxy) -> None:
    fresh = CosmosClient(emulator.url, {"masterKey": emulator.key})
    container = fresh.get_database_client(database.id).create_container(
        "ka", partition_key=PartitionKey("/source")
    )
    before = emulator.health()["connections"]
    for i in range(40):
        container.upsert_item(doc(f"k{i}"))
    headers = container.client_connection.last_response_headers
    after = emulator.health()["connections"]
    assert headers.get("connection", "").lower() != "close"
    # 40 upserts over (at most a couple of) reused connections, +1 for the health call.
    assert after - before <= 3


def test_https_mode_works_with_plain_client() -> None:
    with CosmosEmulator(ssl=True) as server:
        assert server.url.startswith("https://")
        assert server.health()["status"] == "ok"
        https_client = CosmosClient(server.url, {"masterKey": server.key})
        db = https_client.create_database("tls")
        container = db.create_container("c", partition_key=PartitionKey("/source"))
        container.upsert_item(doc("a"))
        assert container.read_item("a", partition_key="urlhaus")["id"] == "a"


# --------------------------------------------------------------------------- point operations


def test_missing_item_point_operations_raise_not_found(container: ContainerProxy) -> None:
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("nope", partition_key="urlhaus")
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("ind-0", partition_key="otx")  # exists, but in partition "urlhaus"
    with pytest.raises(CosmosResourceNotFoundError):
        container.replace_item("nope", doc("nope"))
    with pytest.raises(CosmosResourceNotFoundError):
        container.delete_item("nope", partition_key="urlhaus")
    with pytest.raises(CosmosResourceNotFoundError):
        container.delete_item("ind-0", partition_key="otx")
    assert container.read_item("ind-0", partition_key="urlhaus")["score"] == 0


def test_not_found_body_is_cosmos_json(emulator: CosmosEmulator, container: ContainerProxy) -> None:
    with pytest.raises(CosmosResourceNotFoundError) as info:
        container.read_item("nope", partition_key="urlhaus")
    assert info.value.status_code == 404
    assert json.loads(info.value.http_error_message)["code"] == "NotFound"


def test_create_conflict_and_replace(container: ContainerProxy) -> None:
    with pytest.raises(CosmosResourceExistsError):
        container.create_item(doc("ind-0", score=99))
    container.replace_item("ind-0", doc("ind-0", score=100))
    assert container.read_item("ind-0", partition_key="urlhaus")["score"] == 100


def test_document_over_2_mb_is_rejected_with_413(container: ContainerProxy) -> None:
    container.upsert_item(doc("big-ok", blob="x" * (2 * 1024 * 1024 - 200)))
    with pytest.raises(CosmosHttpResponseError) as info:
        container.upsert_item(doc("too-big", blob="x" * (2 * 1024 * 1024 + 1)))
    assert info.value.status_code == 413
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("too-big", partition_key="urlhaus")


# --------------------------------------------------------------------------- queries


def test_query_is_scoped_to_the_partition_key(container: ContainerProxy) -> None:
    items = container.query_items("SELECT * FROM c", partition_key="otx")
    assert ids(items) == ["ind-1", "ind-4", "ind-7"]


def test_cross_partition_query(container: ContainerProxy) -> None:
    items = list(
        container.query_items("SELECT * FROM c ORDER BY c.score DESC", enable_cross_partition_query=True)
    )
    assert [item["score"] for item in items] == list(range(8, -1, -1))
    count = container.query_items("SELECT VALUE COUNT(1) FROM c", enable_cross_partition_query=True)
    assert list(count) == [9]
    # Without the flag too (one physical partition, like a small real container).
    assert len(ids(container.query_items("SELECT c.id FROM c"))) == 9


def test_parameterized_queries(container: ContainerProxy) -> None:
    items = container.query_items(
        "SELECT * FROM c WHERE c.score >= @min AND c['value'] != @skip",
        parameters=[{"name": "@min", "value": 5}, {"name": "@skip", "value": "10.0.0.6"}],
        enable_cross_partition_query=True,
    )
    assert ids(items) == ["ind-5", "ind-7", "ind-8"]
    scoped = container.query_items(
        "SELECT * FROM c WHERE c.score >= @min",
        parameters=[{"name": "@min", "value": 5}],
        partition_key="urlhaus",
    )
    assert ids(scoped) == ["ind-6"]
    in_list = container.query_items(
        "SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@ids, c.id)",
        parameters=[{"name": "@ids", "value": ["ind-1", "ind-2", "missing"]}],
        enable_cross_partition_query=True,
    )
    assert sorted(in_list) == ["ind-1", "ind-2"]


def test_invalid_query_is_a_bad_request(container: ContainerProxy) -> None:
    with pytest.raises(CosmosHttpResponseError) as info:
        list(container.query_items("SELECT * FROM c WHERE", enable_cross_partition_query=True))
    assert info.value.status_code == 400


def test_query_paging_with_continuation(container: ContainerProxy) -> None:
    pages = container.query_items(
        "SELECT * FROM c ORDER BY c.score", enable_cross_partition_query=True, max_item_count=4
    ).by_page()
    sizes = [len(list(page)) for page in pages]
    assert sizes == [4, 4, 1]


def test_query_plan_path_works_end_to_end(container: ContainerProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the SDK onto its query-plan path (it takes it after a 400 with sub-status 1004)."""

    class NeedsQueryPlan(execution_dispatcher._DefaultQueryExecutionContext):  # type: ignore[misc]
        def __init__(self, *args: Any, resource_link: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, resource_link=resource_link, **kwargs)
            self._is_document_query = resource_link is not None

        def fetch_next_block(self) -> Any:
            if self._is_document_query:
                raise CosmosHttpResponseError(status_code=400, message="query plan needed", sub_status=1004)
            return super().fetch_next_block()

        def __next__(self) -> Any:
            if self._is_document_query:
                raise CosmosHttpResponseError(status_code=400, message="query plan needed", sub_status=1004)
            return super().__next__()

    monkeypatch.setattr(execution_dispatcher, "_DefaultQueryExecutionContext", NeedsQueryPlan)
    items = container.query_items("SELECT * FROM c ORDER BY c.score DESC", enable_cross_partition_query=True)
    assert [item["score"] for item in items] == list(range(8, -1, -1))
    top = container.query_items(
        "SELECT TOP 2 VALUE c.score FROM c WHERE c.score > @x ORDER BY c.score",
        parameters=[{"name": "@x", "value": 3}],
        enable_cross_partition_query=True,
    )
    assert list(top) == [4, 5]


# --------------------------------------------------------------------------- transactional batch


def test_batch_supports_all_operations(container: ContainerProxy) -> None:
    results = container.execute_item_batch(
        batch_operations=[
            ("upsert", (doc("b-1", score=1),)),
            ("create", (doc("b-2", score=2),)),
            ("replace", ("ind-0", doc("ind-0", score=50))),
            ("read", ("ind-3",)),
            ("delete", ("ind-6",)),
        ],
        partition_key="urlhaus",
    )
    assert [r["statusCode"] for r in results] == [201, 201, 200, 200, 204]
    assert results[3]["resourceBody"]["id"] == "ind-3"
    assert ids(container.query_items("SELECT * FROM c", partition_key="urlhaus")) == [
        "b-1",
        "b-2",
        "ind-0",
        "ind-3",
    ]
    assert container.read_item("ind-0", partition_key="urlhaus")["score"] == 50


def test_batch_patch_and_its_rollback(container: ContainerProxy) -> None:
    increment = [{"op": "incr", "path": "/score", "value": 10}]
    container.execute_item_batch(batch_operations=[("patch", ("ind-3", increment))], partition_key="urlhaus")
    assert container.read_item("ind-3", partition_key="urlhaus")["score"] == 13
    with pytest.raises(CosmosBatchOperationError):
        container.execute_item_batch(
            batch_operations=[("patch", ("ind-3", increment)), ("read", ("missing",))],
            partition_key="urlhaus",
        )
    assert container.read_item("ind-3", partition_key="urlhaus")["score"] == 13


def test_batch_of_100_upserts_and_idempotent_rerun(container: ContainerProxy) -> None:
    ops = [("upsert", (doc(f"u-{i}", source="bulk", n=i),)) for i in range(100)]
    assert len(container.execute_item_batch(batch_operations=ops, partition_key="bulk")) == 100
    assert len(container.execute_item_batch(batch_operations=ops, partition_key="bulk")) == 100
    count = container.query_items("SELECT VALUE COUNT(1) FROM c", partition_key="bulk")
    assert list(count) == [100]


def test_batch_of_101_operations_is_rejected(container: ContainerProxy) -> None:
    ops = [("upsert", (doc(f"u-{i}", source="bulk"),)) for i in range(101)]
    with pytest.raises(CosmosHttpResponseError) as info:
        container.execute_item_batch(batch_operations=ops, partition_key="bulk")
    assert info.value.status_code == 400
    assert list(container.query_items("SELECT * FROM c", partition_key="bulk")) == []


def test_batch_is_all_or_nothing(container: ContainerProxy) -> None:
    before = container.read_item("ind-0", partition_key="urlhaus")
    ops: list[Any] = [
        ("upsert", (doc("new-1"),)),
        ("replace", ("ind-0", doc("ind-0", score=-1))),
        ("delete", ("ind-3",)),
        ("upsert", (doc("new-1", again=True),)),
        ("create", (doc("ind-6"),)),  # conflict: ind-6 exists -> whole batch fails
        ("upsert", (doc("new-2"),)),
    ]
    with pytest.raises(CosmosBatchOperationError) as info:
        container.execute_item_batch(batch_operations=ops, partition_key="urlhaus")
    assert info.value.error_index == 4
    assert info.value.status_code == 409
    assert [r["statusCode"] for r in info.value.operation_responses] == [424, 424, 424, 424, 409, 424]
    assert ids(container.query_items("SELECT * FROM c", partition_key="urlhaus")) == [
        "ind-0",
        "ind-3",
        "ind-6",
    ]
    assert container.read_item("ind-0", partition_key="urlhaus") == before


def test_batch_failed_read_rolls_back_earlier_writes(container: ContainerProxy) -> None:
    ops: list[Any] = [("upsert", (doc("new-1"),)), ("read", ("missing",))]
    with pytest.raises(CosmosBatchOperationError) as info:
        container.execute_item_batch(batch_operations=ops, partition_key="urlhaus")
    assert info.value.status_code == 404
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("new-1", partition_key="urlhaus")


def test_batch_partition_key_mismatch_is_rejected(container: ContainerProxy) -> None:
    ops: list[Any] = [("upsert", (doc("ok", source="urlhaus"),)), ("upsert", (doc("bad", source="otx"),))]
    with pytest.raises(CosmosBatchOperationError) as info:
        container.execute_item_batch(batch_operations=ops, partition_key="urlhaus")
    assert info.value.status_code == 400
    assert [r["statusCode"] for r in info.value.operation_responses] == [424, 400]
    assert ids(container.query_items("SELECT * FROM c WHERE c.id IN ('ok', 'bad')")) == []


# --------------------------------------------------------------------------- TTL


def test_ttl_expiry(database: DatabaseProxy) -> None:
    ttl_on = database.create_container("ttl-on", partition_key=PartitionKey("/source"), default_ttl=-1)
    ttl_default = database.create_container("ttl-1", partition_key=PartitionKey("/source"), default_ttl=1)
    ttl_off = database.create_container("ttl-off", partition_key=PartitionKey("/source"))
    ttl_on.upsert_item(doc("short", ttl=1))
    ttl_on.upsert_item(doc("forever"))  # container default -1: never expires
    ttl_default.upsert_item(doc("default"))  # container default 1 s
    ttl_default.upsert_item(doc("pinned", ttl=-1))  # item -1 overrides the default
    ttl_off.upsert_item(doc("ignored", ttl=1))  # TTL off on the container: item ttl ignored
    assert ttl_on.read_item("short", partition_key="urlhaus")["ttl"] == 1

    def state() -> tuple[list[str], list[str]]:
        return (
            ids(ttl_on.query_items("SELECT * FROM c", partition_key="urlhaus")),
            ids(ttl_default.query_items("SELECT * FROM c", enable_cross_partition_query=True)),
        )

    deadline = time.monotonic() + 5
    while state() != (["forever"], ["pinned"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state() == (["forever"], ["pinned"])
    with pytest.raises(CosmosResourceNotFoundError):
        ttl_on.read_item("short", partition_key="urlhaus")
    with pytest.raises(CosmosResourceNotFoundError):
        ttl_default.read_item("default", partition_key="urlhaus")
    assert ttl_off.read_item("ignored", partition_key="urlhaus")["id"] == "ignored"


# --------------------------------------------------------------------------- controller and test endpoints


def test_reset_endpoint_drops_all_databases() -> None:
    with CosmosEmulator() as server:
        own_client = CosmosClient(server.url, {"masterKey": server.key})
        own_client.create_database("one").create_container("c", partition_key=PartitionKey("/id"))
        own_client.create_database("two")
        assert sorted(db["id"] for db in own_client.list_databases()) == ["one", "two"]
        server.reset()
        assert list(own_client.list_databases()) == []
        own_client.create_database("one")  # usable again after a reset
    assert not server.running


def test_health_endpoint(emulator: CosmosEmulator) -> None:
    health = emulator.health()
    assert health["status"] == "ok"
    assert health["ssl"] is False


def test_running_emulator_reuses_external_server(
    emulator: CosmosEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREATSTREAM_COSMOS_URL", emulator.url.rstrip("/"))
    with running_emulator() as reused:
        assert reused.url == emulator.url
        assert reused.key == EMULATOR_KEY
    assert emulator.health()["status"] == "ok"  # not stopped by the context manager


def test_running_emulator_starts_and_stops_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THREATSTREAM_COSMOS_URL", raising=False)
    with running_emulator() as started:
        assert started.running
        assert started.health()["status"] == "ok"
    assert not started.running


def test_start_reports_stderr_when_the_port_is_taken(emulator: CosmosEmulator) -> None:
    with pytest.raises(RuntimeError, match="EADDRINUSE"):
        CosmosEmulator(port=emulator.port).start(timeout=10)


def test_start_explains_missing_node_modules(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cosmos_emulator, "EMULATOR_DIR", tmp_path)
    monkeypatch.setattr(cosmos_emulator, "LAUNCHER", tmp_path / "launcher.js")
    with pytest.raises(RuntimeError, match=r"npm ci --prefix dev/cosmos-emulator"):
        CosmosEmulator().start()


def test_port_argument_is_honoured() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with CosmosEmulator(port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}/"


def test_connection_json_for_airflow(emulator: CosmosEmulator) -> None:
    conn = json.loads(emulator.connection_json(database_name="db", collection_name="coll"))
    assert conn == {
        "conn_type": "azure_cosmos",
        "login": emulator.url,
        "password": EMULATOR_KEY,
        "extra": {"database_name": "db", "collection_name": "coll"},
    }


def test_airflow_cosmos_hook_talks_to_the_emulator(
    emulator: CosmosEmulator, database: DatabaseProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported here: importing Airflow costs seconds, only this test needs it.
    from airflow.providers.microsoft.azure.hooks.cosmos import AzureCosmosDBHook

    database.create_container("indicators", partition_key=PartitionKey("/source"))
    monkeypatch.setenv("AIRFLOW_CONN_EMULATOR_TEST", emulator.connection_json(database_name=database.id))
    hook = AzureCosmosDBHook(azure_cosmos_conn_id="emulator_test")
    hook.upsert_document(doc("from-hook"), database_name=database.id, collection_name="indicators")
    read = hook.get_document(
        "from-hook", database_name=database.id, collection_name="indicators", partition_key="urlhaus"
    )
    assert read is not None
    assert read["id"] == "from-hook"
