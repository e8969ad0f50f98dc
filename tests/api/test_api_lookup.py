"""The API's lookups through FastAPI's TestClient, against the local Cosmos-protocol server:
found, not found, defanged, invalid (400), bulk order, per-item errors and the limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from threatstream.api.lookup import MAX_BULK_VALUES

pytestmark = pytest.mark.emulator


def test_lookup_found_with_provenance_and_decayed_score(seeded: str, client: TestClient) -> None:
    response = client.get("/api/v1/lookup", params={"value": " 94.156.8.244 "})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "found"
    record = body["record"]
    assert record["indicator_type"] == "IPv4"
    assert record["source_names"] == ["abuseipdb", "otx"]
    assert {entry["source"] for entry in record["sources"]} == {"abuseipdb", "otx"}
    assert record["tlp"] == "green"
    for key in ("first_seen", "last_seen", "expires_at", "tags", "score"):
        assert key in record
    assert 0 < record["current_score"] <= record["score"]
    assert not any(key.startswith("_") for key in record)
    assert body["request_charge"] == 1.0  # one point read


def test_lookup_defanged_and_typed_spellings(seeded: str, client: TestClient) -> None:
    plain = client.get("/api/v1/lookup", params={"value": "94.156.8.244"}).json()["record"]
    for params in (
        {"value": "94.156.8[.]244"},
        {"value": "::ffff:94.156.8.244"},
        {"value": "94.156.8.244", "type": "IPv4"},
    ):
        response = client.get("/api/v1/lookup", params=params)
        assert response.status_code == 200, params
        assert response.json()["record"]["id"] == plain["id"]
    url = client.get("/api/v1/lookup", params={"value": "hxxp://EVIL[.]example/payload.exe"})
    assert url.status_code == 200
    assert url.json()["record"]["indicator_value"] == "http://evil.example/payload.exe"
    host = client.get("/api/v1/lookup", params={"value": "CDN.Evil.Example."}).json()
    assert host["record"]["indicator_type"] == "hostname"
    assert host["tried"] == [
        {"type": "domain", "value": "cdn.evil.example"},
        {"type": "hostname", "value": "cdn.evil.example"},
    ]


def test_lookup_not_found_is_404(seeded: str, client: TestClient) -> None:
    response = client.get("/api/v1/lookup", params={"value": "5.188.10.197"})
    assert response.status_code == 404
    body = response.json()
    assert body.pop("request_charge") >= 0  # the local server charges nothing for a 404
    assert body == {
        "query": "5.188.10.197",
        "status": "not_found",
        "tried": [{"type": "IPv4", "value": "5.188.10.197"}],
    }


def test_bulk_lookup_keeps_input_order_and_reports_each_item(seeded: str, client: TestClient) -> None:
    values = [
        "5.188.10.197",
        "94.156.8[.]244",
        "10.0.0.1",
        {"value": "cdn.evil.example", "type": "hostname"},
        "no type here",
        {"value": "94.156.8.244", "type": "NotAType"},
        "hxxp://evil[.]example/payload.exe",
    ]
    response = client.post("/api/v1/lookup", json=values)
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    assert [r["status"] for r in results] == [
        "not_found",
        "found",
        "invalid",
        "found",
        "invalid",
        "invalid",
        "found",
    ]
    assert [r["query"] for r in results] == [v if isinstance(v, str) else v["value"] for v in values]
    assert results[2]["reason"] == "non_global_ip"
    assert results[4]["reason"] == "unknown_type"
    assert results[6]["record"]["indicator_type"] == "URL"
    assert body["count"] == 7
    assert body["counts"] == {"found": 3, "not_found": 1, "invalid": 3, "error": 0}


def test_bulk_lookup_of_the_limit_answers_every_value(seeded: str, client: TestClient) -> None:
    values = ["94.156.8.244", "5.188.10.197"] * (MAX_BULK_VALUES // 2)
    response = client.post("/api/v1/lookup", json=values)
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["found", "not_found"] * (MAX_BULK_VALUES // 2)


def test_a_store_failure_is_503_without_the_key(
    cosmos_server: object, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_THREATSTREAM_COSMOS",
        '{"conn_type": "azure_cosmos", "login": "https://127.0.0.1:9", "password": "c2VjcmV0LWtleQ=="}',
    )
    response = client.get("/api/v1/lookup", params={"value": "94.156.8.244"})
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert "c2VjcmV0LWtleQ==" not in response.text
    bulk = client.post("/api/v1/lookup", json=["94.156.8.244", "10.0.0.1"]).json()
    assert [r["status"] for r in bulk["results"]] == ["error", "invalid"]
    assert "c2VjcmV0LWtleQ==" not in str(bulk)
