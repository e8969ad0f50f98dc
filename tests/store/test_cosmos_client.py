"""The base store hook's client and containers, against the local Cosmos-protocol server."""

from __future__ import annotations

import json

import pytest

from threatstream.store.base import DEFAULT_CONNECTION_TIMEOUT, DEFAULT_READ_TIMEOUT, TIMEOUT_BOUNDS
from threatstream.store.indicators import IndicatorStoreHook
from threatstream.store.merged import MergedViewHook
from threatstream_dev.cosmos_emulator import CosmosEmulator

pytestmark = pytest.mark.emulator


def _connection(monkeypatch: pytest.MonkeyPatch, server: CosmosEmulator, database: str, **extra: str) -> None:
    connection = json.loads(server.connection_json(database_name=database))
    connection["extra"].update(extra)
    monkeypatch.setenv("AIRFLOW_CONN_THREATSTREAM_COSMOS", json.dumps(connection))


def test_timeouts_default_when_the_connection_does_not_say(cosmos_database: str) -> None:
    policy = IndicatorStoreHook().get_conn().client_connection.connection_policy
    assert (policy.RequestTimeout, policy.ReadTimeout) == (DEFAULT_CONNECTION_TIMEOUT, DEFAULT_READ_TIMEOUT)


def test_timeouts_come_from_the_extras_within_bounds(
    cosmos_server: CosmosEmulator, cosmos_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, cosmos_server, cosmos_database, connection_timeout="2.5", read_timeout="86400")
    policy = IndicatorStoreHook().get_conn().client_connection.connection_policy
    assert (policy.RequestTimeout, policy.ReadTimeout) == (2.5, TIMEOUT_BOUNDS[1])


def test_a_timeout_that_is_not_a_number_is_refused_before_any_client(
    cosmos_server: CosmosEmulator, cosmos_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, cosmos_server, cosmos_database, read_timeout="soon")
    hook = IndicatorStoreHook()
    with pytest.raises(ValueError, match="read_timeout='soon'"):
        hook.get_conn()
    assert hook._conn is None


def test_each_store_gets_its_own_container_with_its_own_settings(cosmos_database: str) -> None:
    indicators, merged = IndicatorStoreHook(), MergedViewHook()
    assert indicators.get_container() is indicators.container("indicators")
    assert (indicators.get_container().id, merged.get_container().id) == ("indicators", "indicators_merged")
    policy = merged.get_container().read()["indexingPolicy"]
    assert policy["compositeIndexes"]
    assert merged.container_settings() != indicators.container_settings()


def test_both_stores_keep_the_same_number_of_failure_samples() -> None:
    from threatstream.store.base import MAX_KEPT_FAILURES
    from threatstream.store.indicators import WriteStats
    from threatstream.store.merged import MergeStats

    failures = [{"id": str(n), "reason": "HTTP 503"} for n in range(3 * MAX_KEPT_FAILURES)]
    for stats in (WriteStats(), MergeStats()):
        for part in (failures[:15], failures[15:]):
            other = type(stats)(failures=list(part))
            stats.merge(other) if isinstance(stats, WriteStats) else stats.add(other)
        assert stats.failures == failures[:MAX_KEPT_FAILURES]
