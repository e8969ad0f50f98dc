"""The documented secrets-backend settings (deploy/secrets/*.json), checked at configuration level.

For Azure Key Vault the provider's real backend is configured from the file through Airflow's
own ``[secrets]`` options and asked for each connection; only its Key Vault client is a local
stand-in (a dict of secrets), since no vault is reachable here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from threatstream.sources import all_sources
from threatstream.store.indicators import IndicatorStoreHook

REPO = Path(__file__).resolve().parents[2]
#: Every feed's connection (the list feeds of include/feeds/lists too) and the store's.
CONNECTIONS = (
    *(spec.hook_class.default_conn_name for spec in all_sources()),
    IndicatorStoreHook.default_conn_name,
)


def _settings(name: str) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads((REPO / "deploy" / "secrets" / name).read_text())
    return settings


class SecretsStandIn:
    """Answers ``get_secret(name=...)`` like ``azure.keyvault.secrets.SecretClient``."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.asked: list[str] = []

    def get_secret(self, name: str) -> Any:
        self.asked.append(name)
        if name not in self.secrets:
            raise ResourceNotFoundError(f"{name} not found")
        return type("KeyVaultSecret", (), {"value": self.secrets[name]})()


def _configured_backend(settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow import configuration

    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", settings["backend"])
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps(settings["backend_kwargs"]))
    get_custom = configuration.get_custom_secret_backend
    if hasattr(get_custom, "cache_clear"):
        get_custom.cache_clear()
    backends = configuration.initialize_secrets_backends()
    if hasattr(get_custom, "cache_clear"):  # later tests must not see this backend
        get_custom.cache_clear()
    return backends[0]


def test_key_vault_backend_finds_every_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.microsoft.azure.secrets.key_vault import AzureKeyVaultBackend

    settings = _settings("azure-key-vault.json")
    backend = _configured_backend(settings, monkeypatch)
    assert isinstance(backend, AzureKeyVaultBackend)
    assert backend.connections_prefix == "airflow-connections"
    assert backend.config_prefix is None  # configuration stays in the deployment, not the vault
    assert set(settings["connections"]) == set(CONNECTIONS)

    stored = {
        secret: json.dumps({"conn_type": "http", "host": f"{conn_id}.example", "password": "k"})
        for conn_id, secret in settings["connections"].items()
    }
    stand_in = SecretsStandIn(stored)
    monkeypatch.setattr(AzureKeyVaultBackend, "client", stand_in)
    for conn_id in CONNECTIONS:
        value = backend.get_conn_value(conn_id)
        assert value is not None, conn_id
        assert json.loads(value)["host"] == f"{conn_id}.example"
    assert stand_in.asked == [settings["connections"][c] for c in CONNECTIONS]
    assert backend.get_conn_value("threatstream_storage") is None  # absent: next backend is asked


def test_secret_names_are_valid_key_vault_names() -> None:
    from airflow.providers.microsoft.azure.secrets.key_vault import AzureKeyVaultBackend

    settings = _settings("azure-key-vault.json")
    prefix = settings["backend_kwargs"]["connections_prefix"]
    for conn_id, secret in settings["connections"].items():
        assert AzureKeyVaultBackend.build_path(prefix, conn_id) == secret
        assert len(secret) <= 127
        assert secret.replace("-", "").isalnum()


def test_secrets_manager_names_follow_its_prefix() -> None:
    settings = _settings("aws-secrets-manager.json")
    assert settings["backend"] == "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    prefix = settings["backend_kwargs"]["connections_prefix"]
    assert settings["connections"] == {conn_id: f"{prefix}/{conn_id}" for conn_id in CONNECTIONS}
