"""The API's fixtures: a merged view seeded with a few values, an app with a known user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.records.indicators import Observation

NOW = datetime.now(UTC).replace(microsecond=0)
#: ``(source, observation)`` pairs merged into the seeded view.
SEED = [
    ("otx", Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244", tlp=TLP.GREEN)),
    ("abuseipdb", Observation(indicator_type=IndicatorType.IPV4, value="94.156.8.244", confidence=90)),
    ("otx", Observation(indicator_type=IndicatorType.HOSTNAME, value="cdn.evil.example")),
    ("urlhaus", Observation(indicator_type=IndicatorType.URL, value="http://evil.example/payload.exe")),
]


@pytest.fixture
def seeded(cosmos_database: str) -> str:
    """:data:`SEED` merged into the ``threatstream_cosmos`` connection's merged view (a fresh
    database on the local Cosmos-protocol server, whose name is returned)."""
    from threatstream.sources import scoring_policy
    from threatstream.store.merged import MergedViewHook

    hook = MergedViewHook(policy=scoring_policy())
    documents = [
        observation.to_indicator(source, ingested_at=NOW, default_ttl=timedelta(days=7)).to_document()
        for source, observation in SEED
    ]
    assert hook.merge_documents(documents).failed == 0
    return cosmos_database


class StubAuthManager:
    """Allows ``GET`` on the DAGs in ``allowed`` (every DAG when None), records every check."""

    def __init__(self, allowed: set[str] | None = None) -> None:
        self.allowed = allowed
        self.checks: list[tuple[str, Any, str | None]] = []

    def is_authorized_dag(
        self, *, method: str, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        dag_id = details.id if details is not None else None
        self.checks.append((method, access_entity, dag_id))
        return self.allowed is None or dag_id in self.allowed


@pytest.fixture
def auth(monkeypatch: pytest.MonkeyPatch) -> StubAuthManager:
    """Airflow's auth manager, as the API sees it: a stub that allows everything by default."""
    from airflow.api_fastapi import app as api_app

    stub = StubAuthManager()
    monkeypatch.setattr(api_app, "get_auth_manager", lambda: stub)
    return stub


@pytest.fixture
def client(auth: StubAuthManager) -> Iterator[TestClient]:
    """The API app, the caller authenticated as ``analyst`` (Airflow's ``get_user`` overridden)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    from threatstream.api.app import create_app

    app = create_app()
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="analyst", role="viewer")
    with TestClient(app) as test_client:
        yield test_client
