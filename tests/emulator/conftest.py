"""Fixtures for testing the local Cosmos DB server itself (dev/cosmos-emulator/launcher.js).

These tests always start their own server: they exercise launcher-specific behaviour
(test-only endpoints, counters) and must not run against THREATSTREAM_COSMOS_URL.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from azure.cosmos import CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosResourceNotFoundError

from threatstream_dev.cosmos_emulator import CosmosEmulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[CosmosEmulator]:
    """A plain-HTTP server started for this test package."""
    with CosmosEmulator() as server:
        yield server


@pytest.fixture(scope="session")
def client(emulator: CosmosEmulator) -> CosmosClient:
    """The client exactly as Airflow's AzureCosmosDBHook builds it: no extra options."""
    return CosmosClient(emulator.url, {"masterKey": emulator.key})


@pytest.fixture
def database(client: CosmosClient) -> Iterator[DatabaseProxy]:
    """A uuid-named database, dropped after the test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    db = client.create_database(name)
    yield db
    with contextlib.suppress(CosmosResourceNotFoundError):
        client.delete_database(name)
