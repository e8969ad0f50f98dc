"""infra/terraform: parses, provisions what the pipeline needs, and takes the container's
partition key, TTL and indexing policy from include/cosmos/container.json (one source of truth)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
CONTAINER_SETTINGS = REPO / "include" / "cosmos" / "container.json"
#: container.json indexing keys -> the azurerm blocks that carry them.
INDEXING_BLOCKS = {
    "includedPaths": "included_path",
    "excludedPaths": "excluded_path",
    "compositeIndexes": "composite_index",
}


def _clean(value: Any) -> Any:
    """python-hcl2 keeps quotes and block markers: drop them."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@pytest.fixture(scope="module")
def terraform() -> dict[str, Any]:
    merged: dict[str, Any] = {"resource": {}, "locals": {}, "variable": {}, "output": {}}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed = _clean(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                merged["resource"].setdefault(kind, {}).update(named)
        for kind in ("locals", "variable", "output"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
    return merged


def _dynamic(body: dict[str, Any]) -> dict[str, Any]:
    return {name: spec for block in body.get("dynamic", []) for name, spec in block.items()}


def test_container_settings_come_from_include(terraform: dict[str, Any]) -> None:
    match = re.search(r'file\("\$\{path\.module\}/([^"]+)"\)', terraform["locals"]["container_settings"])
    assert match, terraform["locals"]["container_settings"]
    assert (TERRAFORM / match[1]).resolve() == CONTAINER_SETTINGS
    container = terraform["resource"]["azurerm_cosmosdb_sql_container"]["indicators"]
    assert container["partition_key_paths"] == ["${local.container_settings.partition_key_path}"]
    assert container["default_ttl"] == "${local.container_settings.default_ttl}"
    settings = json.loads(CONTAINER_SETTINGS.read_text())
    assert settings["partition_key_path"] == "/partition_key"
    assert isinstance(settings["default_ttl"], int)  # TTL on (-1: per-document ttl)
    assert settings["default_ttl"] == -1 or settings["default_ttl"] > 0


def test_every_indexing_setting_reaches_terraform(terraform: dict[str, Any]) -> None:
    policy = json.loads(CONTAINER_SETTINGS.read_text())["indexing_policy"]
    container = terraform["resource"]["azurerm_cosmosdb_sql_container"]["indicators"]
    indexing = container["indexing_policy"][0]
    assert indexing["indexing_mode"] == "${lower(local.indexing_policy.indexingMode)}"
    assert policy["indexingMode"].lower() in {"consistent", "none"}
    assert policy.get("automatic", True) is True  # azurerm has no switch: always automatic
    dynamic = _dynamic(indexing)
    for key in policy:
        if key in ("indexingMode", "automatic"):
            continue
        assert key in INDEXING_BLOCKS, f"container.json's {key} is not provisioned by infra/terraform"
        assert INDEXING_BLOCKS[key] in dynamic, key
        assert key in str(dynamic[INDEXING_BLOCKS[key]]["for_each"])


def test_account_capacity_and_keyless_access(terraform: dict[str, Any]) -> None:
    account = terraform["resource"]["azurerm_cosmosdb_account"]["threatstream"]
    assert account["kind"] == "GlobalDocumentDB"
    assert "EnableServerless" in _dynamic(account)["capabilities"]["for_each"]
    assert account["local_authentication_disabled"] == "${var.key_auth_enabled ? false : true}"
    assert account["access_key_metadata_writes_enabled"] is False
    assert terraform["variable"]["key_auth_enabled"]["default"] is False
    container = terraform["resource"]["azurerm_cosmosdb_sql_container"]["indicators"]
    assert "autoscale_settings" in _dynamic(container)


def test_airflow_identity_gets_data_plane_and_secret_roles(terraform: dict[str, Any]) -> None:
    cosmos_role = terraform["resource"]["azurerm_cosmosdb_sql_role_assignment"]["airflow_data_contributor"]
    assert cosmos_role["principal_id"] == "${var.airflow_principal_id}"
    assert "${local.data_contributor_role}" in cosmos_role["role_definition_id"]
    assert terraform["locals"]["data_contributor_role"] == "00000000-0000-0000-0000-000000000002"
    vault = terraform["resource"]["azurerm_key_vault"]["feeds"]
    assert vault["enable_rbac_authorization"] is True
    assert vault["purge_protection_enabled"] is True
    secrets_role = terraform["resource"]["azurerm_role_assignment"]["airflow_reads_feed_keys"]
    assert secrets_role["role_definition_name"] == "Key Vault Secrets User"
    assert secrets_role["principal_id"] == "${var.airflow_principal_id}"
    assert {"cosmos_endpoint", "key_vault_url"} <= set(terraform["output"])
