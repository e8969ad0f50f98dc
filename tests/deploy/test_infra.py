"""infra/terraform: parses, provisions what the pipeline needs, and takes each container's
partition key, TTL and indexing policy from the settings the package ships in
store/container_settings/*.json (one source of truth): the source container's container.json and the
merged view's merged_container.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from threatstream.store.containers import DEFAULT_CONTAINER, DEFAULT_MERGED_CONTAINER

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
COSMOS_SETTINGS = REPO / "plugins" / "threatstream" / "store" / "container_settings"
#: Terraform's key in local.containers -> (settings file, the variable naming it, the code's default name).
CONTAINERS = {
    "indicators": ("container.json", "container_name", DEFAULT_CONTAINER),
    "merged": ("merged_container.json", "merged_container_name", DEFAULT_MERGED_CONTAINER),
}
#: Indexing keys of the settings files -> the azurerm blocks that carry them.
INDEXING_BLOCKS = {
    "includedPaths": "included_path",
    "excludedPaths": "excluded_path",
    "compositeIndexes": "composite_index",
}
SETTINGS_FILE = re.compile(r'file\("\$\{path\.module\}/([^"]+)"\)')


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
    merged: dict[str, Any] = {"resource": {}, "locals": {}, "variable": {}, "output": {}, "moved": []}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed = _clean(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                merged["resource"].setdefault(kind, {}).update(named)
        for kind in ("locals", "variable", "output"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
        merged["moved"] += parsed.get("moved", [])
    return merged


def _dynamic(body: dict[str, Any]) -> dict[str, Any]:
    return {name: spec for block in body.get("dynamic", []) for name, spec in block.items()}


def _container(terraform: dict[str, Any]) -> dict[str, Any]:
    """The one container resource, created for each entry of ``local.containers``."""
    container: dict[str, Any] = terraform["resource"]["azurerm_cosmosdb_sql_container"]["containers"]
    assert container["for_each"] == "${local.containers}"
    return container


def test_every_settings_file_is_provisioned(terraform: dict[str, Any]) -> None:
    containers = terraform["locals"]["containers"]
    assert set(containers) == set(CONTAINERS)
    files = {
        (TERRAFORM / path).resolve()
        for c in containers.values()
        for path in SETTINGS_FILE.findall(c["settings"])
    }
    assert files == {p.resolve() for p in COSMOS_SETTINGS.glob("*.json")}, "a container Terraform lacks"


@pytest.mark.parametrize("key", sorted(CONTAINERS))
def test_container_settings_come_from_the_package(terraform: dict[str, Any], key: str) -> None:
    file_name, name_variable, code_default = CONTAINERS[key]
    entry = terraform["locals"]["containers"][key]
    match = SETTINGS_FILE.search(entry["settings"])
    assert match, entry["settings"]
    assert (TERRAFORM / match[1]).resolve() == COSMOS_SETTINGS / file_name
    assert entry["name"] == f"${{var.{name_variable}}}"
    assert terraform["variable"][name_variable]["default"] == code_default  # the name the DAGs use
    container = _container(terraform)
    assert container["name"] == "${each.value.name}"
    assert container["partition_key_paths"] == ["${each.value.settings.partition_key_path}"]
    assert container["default_ttl"] == "${each.value.settings.default_ttl}"
    settings = json.loads((COSMOS_SETTINGS / file_name).read_text())
    assert settings["partition_key_path"] == "/partition_key"
    assert isinstance(settings["default_ttl"], int)  # TTL on (-1: per-document ttl)
    assert settings["default_ttl"] == -1 or settings["default_ttl"] > 0


@pytest.mark.parametrize("key", sorted(CONTAINERS))
def test_every_indexing_setting_reaches_terraform(terraform: dict[str, Any], key: str) -> None:
    policy = json.loads((COSMOS_SETTINGS / CONTAINERS[key][0]).read_text())["indexing_policy"]
    indexing = _container(terraform)["indexing_policy"][0]
    assert indexing["indexing_mode"] == "${lower(each.value.settings.indexing_policy.indexingMode)}"
    assert policy["indexingMode"].lower() in {"consistent", "none"}
    assert policy.get("automatic", True) is True  # azurerm has no switch: always automatic
    dynamic = _dynamic(indexing)
    for setting in policy:
        if setting in ("indexingMode", "automatic"):
            continue
        assert setting in INDEXING_BLOCKS, (
            f"{CONTAINERS[key][0]}'s {setting} is not provisioned by infra/terraform"
        )
        assert INDEXING_BLOCKS[setting] in dynamic, setting
        assert f"each.value.settings.indexing_policy.{setting}" in str(
            dynamic[INDEXING_BLOCKS[setting]]["for_each"]
        )


def test_existing_source_container_is_moved_not_replaced(terraform: dict[str, Any]) -> None:
    assert {
        "from": "${azurerm_cosmosdb_sql_container.indicators}",
        "to": '${azurerm_cosmosdb_sql_container.containers["indicators"]}',
    } in terraform["moved"]
    assert "merged_container_name" in terraform["output"]


def test_account_capacity_and_keyless_access(terraform: dict[str, Any]) -> None:
    account = terraform["resource"]["azurerm_cosmosdb_account"]["threatstream"]
    assert account["kind"] == "GlobalDocumentDB"
    assert "EnableServerless" in _dynamic(account)["capabilities"]["for_each"]
    assert account["local_authentication_disabled"] == "${var.key_auth_enabled ? false : true}"
    assert account["access_key_metadata_writes_enabled"] is False
    assert terraform["variable"]["key_auth_enabled"]["default"] is False
    assert "autoscale_settings" in _dynamic(_container(terraform))


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
