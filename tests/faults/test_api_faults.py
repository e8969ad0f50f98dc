"""Hostile requests to the lookup API: bounded before anything is parsed or read."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from threatstream.api.app import MAX_BODY_BYTES, create_app
from threatstream.api.lookup import Lookups

FaultCase = Callable[[str, str, str], None]


class NoStore(Lookups):
    def hook(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the store was read")


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    class AllowAll:
        def is_authorized_dag(self, **_: object) -> bool:
            return True

    monkeypatch.setattr(api_app, "get_auth_manager", AllowAll)
    app = create_app(NoStore())
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="analyst", role="viewer")
    with TestClient(app) as test_client:
        yield test_client


def test_a_bulk_body_over_the_limit_is_refused_unread(client: TestClient, fault_case: FaultCase) -> None:
    values = ["x" * 8_000 + ".example"] * 1_000  # 8 MB: under the value count, over the bytes
    response = client.post("/api/v1/lookup", json=values)
    assert response.status_code == 413
    assert f"over {MAX_BODY_BYTES} bytes" in response.json()["detail"]
    fault_case(
        "lookup API: bulk body of 8 MB (1,000 values of 8 KB)",
        "413 before the body is parsed; the store not asked",
        f"HTTP {response.status_code}: {response.json()['detail']}",
    )


def test_a_chunked_body_without_a_length_is_cut_at_the_limit(
    client: TestClient, fault_case: FaultCase
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'["'
        for _ in range(64):  # 64 MiB if read to the end
            yield b"a" * (1024 * 1024)
        yield b'"]'

    response = client.post("/api/v1/lookup", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    fault_case(
        "lookup API: chunked bulk body of 64 MiB, no Content-Length",
        "counted as it arrives, 413 once past the limit; the store not asked",
        f"HTTP {response.status_code} after {MAX_BODY_BYTES // 2**20} MiB",
    )


def test_a_false_content_length_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/lookup",
        content=b'["1.1.1.1"]',
        headers={"Content-Type": "application/json", "Content-Length": "-1"},
    )
    assert response.status_code == 413
