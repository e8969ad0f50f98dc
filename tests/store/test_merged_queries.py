"""The documented SOC queries run on the merged view and are served by its indexing policy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from threatstream.canonical.vocabulary import IndicatorType
from threatstream.parsing.timestamps import SORTABLE, format_utc
from threatstream.records.indicators import Observation
from threatstream.sources import scoring_policy
from threatstream.store.containers import merged_container_settings
from threatstream.store.merged import SOC_QUERIES, MergedViewHook

NOW = datetime.now(UTC).replace(microsecond=0)
PARAMETERS: dict[str, dict[str, Any]] = {
    "by_value": {"@value": "94.156.8.244"},
    "by_type_and_score": {"@type": "IPv4", "@min_score": 50},
    "recently_changed": {"@since": format_utc(NOW - timedelta(minutes=10), SORTABLE)},
    "corroborated": {"@min_sources": 2, "@min_score": 0},
    "by_source": {"@source": "otx", "@min_score": 0},
}


@pytest.fixture
def merged_view(cosmos_database: str) -> MergedViewHook:
    hook = MergedViewHook(policy=scoring_policy())
    reports = [
        ("otx", IndicatorType.IPV4, "94.156.8.244", None),
        ("abuseipdb", IndicatorType.IPV4, "94.156.8.244", 100),
        ("abuseipdb", IndicatorType.IPV4, "5.188.10.197", 80),
        ("abuseipdb", IndicatorType.IPV4, "179.43.187.14", 20),
        ("otx", IndicatorType.DOMAIN, "evil.example", None),
    ]
    documents = [
        Observation(indicator_type=kind, value=value, confidence=confidence)
        .to_indicator(source, ingested_at=NOW, default_ttl=timedelta(days=7))
        .to_document()
        for source, kind, value, confidence in reports
    ]
    assert hook.merge_documents(documents).created == 4
    return hook


def test_every_documented_query_runs(merged_view: MergedViewHook) -> None:
    results = {name: list(merged_view.query(query, PARAMETERS[name])) for name, query in SOC_QUERIES.items()}
    assert [doc["indicator_type"] for doc in results["by_value"]] == ["IPv4"]
    ranked = [(doc["indicator_value"], doc["score"]) for doc in results["by_type_and_score"]]
    assert [value for value, _ in ranked] == ["94.156.8.244", "5.188.10.197"]  # 179.43.187.14 scores 16
    assert ranked[0][1] > ranked[1][1]
    assert len(results["recently_changed"]) == 4
    assert [doc["indicator_value"] for doc in results["corroborated"]] == ["94.156.8.244"]
    assert {doc["indicator_value"] for doc in results["by_source"]} == {"94.156.8.244", "evil.example"}


def test_every_queried_path_is_indexed() -> None:
    policy = merged_container_settings()["indexing_policy"]
    included = {path["path"] for path in policy["includedPaths"]}
    composites = [tuple((p["path"], p["order"]) for p in index) for index in policy["compositeIndexes"]]
    for name, query in SOC_QUERIES.items():
        where_and_order = query.split(" WHERE ", 1)[1]
        for field in set(re.findall(r"c\.([a-z_]+)", where_and_order)):
            assert {f"/{field}/?", f"/{field}/[]/?"} & included, (name, field)
        order = re.search(r"ORDER BY (.+)$", query)
        if order and "," in order.group(1):
            wanted = tuple(
                (f"/{term.split()[0].removeprefix('c.')}", "descending" if "DESC" in term else "ascending")
                for term in order.group(1).split(",")
            )
            assert wanted in composites, name
