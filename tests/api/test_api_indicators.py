"""``/api/v1/indicators``: the merged view's highest-scored and most recently changed records,
paged with the store's continuation tokens, against the local Cosmos-protocol server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import NOW, SEED, StubAuthManager

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.records.indicators import Observation

pytestmark = pytest.mark.emulator


def _pages(client: TestClient, order: str, limit: int) -> list[list[dict]]:
    pages, continuation = [], None
    while True:
        params = {"order": order, "limit": limit, **({"continuation": continuation} if continuation else {})}
        response = client.get("/api/v1/indicators", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["order"] == order
        assert len(body["items"]) <= limit
        pages.append(body["items"])
        continuation = body["continuation"]
        if continuation is None:
            return pages
        assert len(pages) < 10, "the continuation never ended"


def test_top_by_score_pages_through_every_unexpired_record(seeded: str, client: TestClient) -> None:
    from threatstream.sources import scoring_policy
    from threatstream.store.merged import MergedViewHook

    expired = Observation(indicator_type=IndicatorType.IPV4, value="45.9.148.99", confidence=100)
    document = expired.to_indicator(
        "abuseipdb", ingested_at=NOW - timedelta(days=30), default_ttl=timedelta(days=1)
    ).to_document()
    assert MergedViewHook(policy=scoring_policy()).merge_documents([document]).failed == 0

    pages = _pages(client, "score", 2)
    items = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [2, 1]
    values = [item["indicator_value"] for item in items]
    assert sorted(values) == sorted({observation.value for _, observation in SEED})
    assert "45.9.148.99" not in values  # expired: no longer reported by anyone
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert items[0]["indicator_value"] == "94.156.8.244"  # two sources, one of them at 90
    for item in items:
        assert not any(key.startswith("_") for key in item)
        assert 0 <= item["current_score"] <= item["score"]
        assert item["sources"]
        assert item["source_names"]


def test_recent_orders_by_last_change(seeded: str, client: TestClient) -> None:
    items = [item for page in _pages(client, "recent", 100) for item in page]
    assert len(items) == len({observation.value for _, observation in SEED})
    changed = [item["updated_at"] for item in items]
    assert changed == sorted(changed, reverse=True)


def test_bad_paging_is_a_clear_400_or_422(seeded: str, client: TestClient) -> None:
    response = client.get("/api/v1/indicators", params={"continuation": "not-a-token"})
    assert response.status_code == 400
    assert "continuation" in response.json()["detail"]
    for params in ({"limit": 0}, {"limit": 101}, {"order": "oldest"}, {"continuation": "x" * 5000}):
        assert client.get("/api/v1/indicators", params=params).status_code == 422, params


def test_needs_read_access_to_the_merged_view(seeded: str, client: TestClient, auth: StubAuthManager) -> None:
    auth.allowed = {"threatstream_feodo"}
    response = client.get("/api/v1/indicators")
    assert response.status_code == 403
    assert "items" not in response.json()
