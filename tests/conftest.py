"""Test environment: an isolated AIRFLOW_HOME, the local Cosmos-protocol server and the
feed replay server, all started once per session and reset between tests."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="threatstream-airflow-"))

# Airflow reads its configuration at import time: set everything before any import of it.
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__THREATSTREAM__STORAGE_BASE"] = (_HOME / "batches").as_uri()
os.environ["AIRFLOW__THREATSTREAM__RETRY_DELAY_SECONDS"] = "0.2"
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
for path in (REPO / "plugins", REPO / "dev"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from threatstream_dev.azurite import Azurite  # noqa: E402
from threatstream_dev.cosmos_emulator import CosmosEmulator, running_emulator  # noqa: E402
from threatstream_dev.feed_replay import FeedReplayServer  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders live under the storage base, the only place batches may be read from."""
    if not config.option.basetemp:
        (_HOME / "batches").mkdir(parents=True, exist_ok=True)
        config.option.basetemp = str(_HOME / "batches" / "tmp")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A fresh Airflow metadata database (SQLite) for the session."""
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[CosmosEmulator]:
    """The local Cosmos-protocol server (reused when THREATSTREAM_COSMOS_URL is set)."""
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's Blob service (in memory) on a random port, for batches on ``abfs://``."""
    with Azurite() as server:
        yield server


@pytest.fixture
def abfs_storage(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    """Batches in a fresh blob container: ``storage_base=abfs://<container>/`` with the
    ``threatstream_storage`` connection (Azurite's development account, via extras)."""
    container = f"batches-{uuid.uuid4().hex[:12]}"
    azurite.create_container(container)
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_STORAGE", azurite.connection_json())
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__STORAGE_BASE", f"abfs://{container}/")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__STORAGE_CONN_ID", "threatstream_storage")
    return container


@pytest.fixture(scope="session")
def replay_server() -> Iterator[FeedReplayServer]:
    """The feed replay server, serving the fixtures under include/feeds."""
    with FeedReplayServer() as server:
        yield server


@pytest.fixture
def replay(replay_server: FeedReplayServer) -> Iterator[FeedReplayServer]:
    """The replay server with no faults, default scenarios and an empty request log."""
    replay_server.reset()
    yield replay_server
    replay_server.reset()


@pytest.fixture
def cosmos_database(cosmos_server: CosmosEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A uniquely named database, wired as the ``threatstream_cosmos`` connection."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_COSMOS", cosmos_server.connection_json(database_name=name))
    yield name
    from azure.cosmos import CosmosClient
    from azure.cosmos.exceptions import CosmosResourceNotFoundError

    with contextlib.suppress(CosmosResourceNotFoundError):
        CosmosClient(cosmos_server.url, {"masterKey": cosmos_server.key}).delete_database(name)


@pytest.fixture
def feed_connections(replay: FeedReplayServer, monkeypatch: pytest.MonkeyPatch) -> FeedReplayServer:
    """``threatstream_<source>`` connections pointing at the replay server."""
    for source in sorted(replay.sources):  # every source with replay fixtures
        monkeypatch.setenv(f"AIRFLOW_CONN_THREATSTREAM_{source.upper()}", replay.connection_json(source))
    return replay
