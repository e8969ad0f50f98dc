"""The API's contract without a store: authentication (401), authorisation through the auth
manager (403, nothing read), invalid input (400), the bulk limit, OpenAPI docs, light import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from threatstream.api.app import create_app
from threatstream.api.lookup import MAX_BULK_VALUES, Lookups
from threatstream.naming import MERGED_VIEW_DAG_ID
from threatstream.sources.registry import all_sources

REPO = Path(__file__).resolve().parents[2]
#: The plugin's contract on every Airflow version (make test-compat): the security calls differ.
pytestmark = pytest.mark.compat


class NoStore(Lookups):
    """Fails the test if the store is asked."""

    def hook(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the store was read")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1/lookup", {"params": {"value": "94.156.8.244"}}),
        ("POST", "/api/v1/lookup", {"json": ["94.156.8.244"]}),
        ("GET", "/api/v1/health", {}),
    ],
)
def test_every_endpoint_needs_a_user_and_a_permission(
    method: str, path: str, kwargs: dict[str, object], auth: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    import threatstream.api.app as api

    monkeypatch.setattr(api, "feed_health", lambda runs: pytest.fail("the metadata DB was read"))
    app = create_app(NoStore())
    with TestClient(app) as anonymous:
        response = anonymous.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 401
    auth.allowed = set()  # type: ignore[attr-defined]
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="nobody", role=None)
    with TestClient(app) as denied:
        response = denied.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 403
        assert "no read access to DAG" in response.json()["detail"]


def test_the_permissions_asked(client: TestClient, auth: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import threatstream.api.app as api

    monkeypatch.setattr(api, "feed_health", lambda runs: [])
    assert client.get("/api/v1/lookup", params={"value": "no type here"}).status_code == 400
    assert auth.checks == [("GET", None, MERGED_VIEW_DAG_ID)]  # type: ignore[attr-defined]
    auth.checks.clear()  # type: ignore[attr-defined]
    assert client.get("/api/v1/health").json() == {"feeds": []}
    assert [(m, e.name, d) for m, e, d in auth.checks] == [  # type: ignore[attr-defined]
        ("GET", "RUN", spec.dag_id) for spec in all_sources()
    ]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"value": "no type here"}, "unknown_type"),
        ({"value": "10.0.0.1"}, "non_global_ip"),
        ({"value": "94.156.8.244", "type": "NotAType"}, "unknown_type"),
    ],
)
def test_invalid_input_is_400_with_the_reason(
    params: dict[str, str], reason: str, auth: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    app = create_app(NoStore())
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="analyst", role="viewer")
    with TestClient(app) as client:
        response = client.get("/api/v1/lookup", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid"
    assert body["reason"] == reason
    assert len(body["message"]) <= 300


def test_bulk_refuses_more_than_the_limit(auth: object) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    app = create_app(NoStore())
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="analyst", role="viewer")
    with TestClient(app) as client:
        response = client.post("/api/v1/lookup", json=["1.1.1.1"] * (MAX_BULK_VALUES + 1))
        assert response.status_code == 413
        assert f"at most {MAX_BULK_VALUES}" in response.json()["detail"]
        assert client.post("/api/v1/lookup", json={"values": "nope"}).status_code == 422
        assert client.post("/api/v1/lookup", json=[]).json()["results"] == []
        too_long = client.post("/api/v1/lookup", json=["x" * 70_000 + ".example"]).json()["results"]
        assert [(r["status"], r["reason"]) for r in too_long] == [("invalid", "too_long")]


def test_openapi_documents_every_endpoint() -> None:
    schema = create_app(NoStore()).openapi()
    assert {"/api/v1/lookup", "/api/v1/health"} <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/lookup"]) == {"get", "post"}


def test_importing_the_plugin_is_light() -> None:
    code = (
        "import sys; import threatstream.api.plugin as p; "
        "heavy = [m for m in ('azure.cosmos', 'threatstream.api.app') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "apps = p.ThreatStreamApiPlugin().fastapi_apps; "
        "assert apps[0]['url_prefix'] == '/threatstream', apps; "
        "assert 'azure.cosmos' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "plugins")}
    )
