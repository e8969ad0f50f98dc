"""A lookup of a value on a MISP warninglist shows the lists and the lowered score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.records.indicators import Observation

pytestmark = pytest.mark.emulator

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def resolvers(cosmos_database: str) -> str:
    """8.8.8.8 flagged by validate (on public-dns-v4), 8.8.4.4 as if it were not, same report."""
    from threatstream.sources import scoring_policy
    from threatstream.store.merged import MergedViewHook

    documents = []
    for value, lists in (("8.8.8.8", ["public-dns-v4"]), ("8.8.4.4", None)):
        observation = Observation(indicator_type=IndicatorType.IPV4, value=value, confidence=80)
        document = observation.to_indicator(
            "otx", ingested_at=NOW, default_ttl=timedelta(days=7)
        ).to_document()
        if lists:
            document["warninglists"] = lists
        documents.append(document)
    assert MergedViewHook(policy=scoring_policy()).merge_documents(documents).failed == 0
    return cosmos_database


def test_the_lookup_shows_the_lists_and_a_fifth_of_the_score(resolvers: str, client: TestClient) -> None:
    flagged = client.get("/api/v1/lookup", params={"value": "8.8.8.8"}).json()["record"]
    plain = client.get("/api/v1/lookup", params={"value": "8.8.4.4"}).json()["record"]
    assert flagged["warninglists"] == ["public-dns-v4"]
    assert flagged["sources"][0]["warninglists"] == ["public-dns-v4"]
    assert "warninglists" not in plain
    assert plain["score"] > 0
    assert flagged["score"] == round(plain["score"] * 0.2, 1)
    assert flagged["current_score"] < plain["current_score"]
