"""Cosmos DB without any key: Microsoft Entra ID data-plane auth in ``CosmosStoreHook``.

No Entra ID tenant is reachable here, so the identity is a static ``TokenCredential`` standing
in for ``DefaultAzureCredential``; the client, its bearer-token policy and every request are
real, against the local Cosmos-protocol server over HTTPS (the SDK sends bearer tokens over TLS only).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken, TokenCredential

from threatstream.exceptions import StoreAuthError
from threatstream.store import base as store_base
from threatstream.store.indicators import IndicatorStoreHook
from threatstream_dev.cosmos_emulator import CosmosEmulator

pytestmark = pytest.mark.emulator

MI_CLIENT_ID = "00000000-0000-0000-0000-00000000c1d0"


class StaticTokenCredential(TokenCredential):
    """A token credential that records the scopes it was asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("entra-id-token", 4_102_444_800)


@pytest.fixture(scope="module")
def tls_cosmos() -> Iterator[CosmosEmulator]:
    with CosmosEmulator(ssl=True) as emulator:
        yield emulator


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the provider's DefaultAzureCredential factory; record how it was called."""
    calls: list[dict[str, Any]] = []

    def factory(**kwargs: Any) -> StaticTokenCredential:
        calls.append({**kwargs, "credential": StaticTokenCredential()})
        return calls[-1]["credential"]  # type: ignore[no-any-return]

    monkeypatch.setattr(store_base, "get_sync_default_azure_credential", factory)
    return calls


def _connection(monkeypatch: pytest.MonkeyPatch, login: str, password: str = "", **extra: str) -> str:
    database = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_THREATSTREAM_COSMOS",
        json.dumps(
            {
                "conn_type": "azure_cosmos",
                "login": login,
                "password": password,
                "extra": {"database_name": database, "collection_name": "indicators", **extra},
            }
        ),
    )
    return database


def test_no_key_means_entra_id_with_the_managed_identity(
    tls_cosmos: CosmosEmulator, credentials: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = _connection(monkeypatch, tls_cosmos.url, managed_identity_client_id=MI_CLIENT_ID)
    hook = IndicatorStoreHook()

    stats = hook.upsert_documents([{"id": "a:IPv4:1", "partition_key": "IPv4_00", "v": 1}])

    assert stats.written == 1
    assert hook.database_name == database
    assert [(c["managed_identity_client_id"], c["workload_identity_tenant_id"]) for c in credentials] == [
        (MI_CLIENT_ID, None)
    ]
    connection = hook.get_conn().client_connection
    assert connection.master_key is None
    assert connection.aad_credentials is credentials[0]["credential"]
    assert credentials[0]["credential"].scopes  # every request carried a bearer token
    assert hook.read_indicator("a:IPv4:1", "IPv4_00") is not None


def test_a_key_is_still_used_as_the_key(
    tls_cosmos: CosmosEmulator, credentials: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, tls_cosmos.url, password=tls_cosmos.key)
    connection = IndicatorStoreHook().get_conn().client_connection
    assert connection.master_key == tls_cosmos.key
    assert connection.aad_credentials is None
    assert credentials == []


def test_management_api_extras_keep_the_providers_route(
    credentials: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, "https://acct.documents.azure.com:443/", resource_group_name="rg")
    seen: list[str] = []

    def providers_route(self: IndicatorStoreHook) -> None:
        seen.append("management API")
        raise RuntimeError("stop before the network")

    monkeypatch.setattr(store_base.AzureCosmosDBHook, "get_conn", providers_route)
    with pytest.raises(RuntimeError, match="stop before the network"):
        IndicatorStoreHook().get_conn()
    assert seen == ["management API"]
    assert credentials == []


def test_no_endpoint_fails_without_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, "")
    with pytest.raises(StoreAuthError, match="no endpoint"):
        IndicatorStoreHook().get_conn()
