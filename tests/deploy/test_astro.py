"""The Astronomer project files: what `astro dev start` / `astro deploy` read."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from threatstream.sources import all_sources
from threatstream.store.indicators import IndicatorStoreHook
from threatstream_dev.cosmos_emulator import EMULATOR_KEY
from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "airflow_settings.yaml").read_text())["airflow"]
    return loaded


def test_dockerfile_pins_an_airflow_3_astro_runtime_the_compat_run_covers() -> None:
    lines = [line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("FROM ")]
    assert len(lines) == 1
    match = re.fullmatch(r"FROM astrocrpublic\.azurecr\.io/runtime:(3)\.(\d+)-(\d+)", lines[0])
    assert match, lines[0]
    minor = f"{match[1]}.{match[2]}"
    tested = [p.name for p in (REPO / "dev" / "compat").glob(f"requirements-compat-{minor}.*.txt")]
    assert tested, f"Astro Runtime {minor} is not covered by make test-compat"


def test_project_files_astro_expects() -> None:
    for name in ("requirements.txt", "packages.txt", ".dockerignore", ".astro/config.yaml"):
        assert (REPO / name).is_file(), name
    assert yaml.safe_load((REPO / ".astro" / "config.yaml").read_text())["project"]["name"] == "threatstream"
    assert (REPO / ".astro" / "test_dag_integrity_default.py").is_file()


def test_settings_point_every_connection_at_the_local_stand_ins(settings: dict[str, Any]) -> None:
    """`astro dev start` runs on the feed replay server and the local Cosmos server, with their
    public test keys only, as `make airflow` and docker-compose.yaml do."""
    connections = {c["conn_id"]: c for c in settings["connections"]}
    sources = {spec.hook_class.default_conn_name: spec.name for spec in all_sources()}  # list feeds too
    store = IndicatorStoreHook.default_conn_name
    assert set(sources) | {store} <= set(connections)
    override = yaml.safe_load((REPO / "docker-compose.override.yml").read_text())["services"]
    replay = FeedReplayServer()  # not started: its sources, mounts and keys
    for conn_id, source in sources.items():
        conn = connections[conn_id]
        host = str(conn["conn_host"])
        base = urlsplit(host if "://" in host else f"{conn['conn_schema']}://{host}:{conn['conn_port']}")
        assert base.hostname == "feed-replay", conn_id
        assert base.hostname in override
        assert base.port == 8000, conn_id
        assert base.path.rstrip("/") == replay.sources[source].mount, conn_id
        assert (conn.get("conn_password") or "") == TEST_KEYS.get(source, ""), conn_id
    cosmos = connections[store]
    assert cosmos["conn_type"] == "azure_cosmos"
    assert urlsplit(cosmos["conn_login"]).hostname == "cosmos"
    assert "cosmos" in override
    assert cosmos["conn_password"] == EMULATOR_KEY
    for conn_id, conn in connections.items():
        for value in (conn.get("conn_extra") or {}).values():
            assert "AccountKey=" not in str(value), conn_id


def test_override_services_are_the_compose_files_own(settings: dict[str, Any]) -> None:
    """docker compose merges docker-compose.override.yml into docker-compose.yaml too: the same
    services, plus the Astro CLI's `airflow` network and the compose default one."""
    override = yaml.safe_load((REPO / "docker-compose.override.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"]
    assert set(override["services"]) == {"cosmos", "feed-replay"}
    assert set(override["networks"]) == {"airflow"}
    for name, spec in override["services"].items():
        assert spec.pop("networks") == ["airflow", "default"], name
        assert spec == compose[name], name


def test_settings_pools_cover_every_feed_and_the_store(settings: dict[str, Any]) -> None:
    pools = {p["pool_name"]: p["pool_slot"] for p in settings["pools"]}
    assert {f"threatstream_{spec.name}" for spec in all_sources()} | {"threatstream_cosmos"} <= set(pools)
    assert all(slots >= 1 for slots in pools.values())


def test_dockerignore_keeps_what_the_images_copy() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = ["requirements.txt", "packages.txt", "dags/threatstream_otx.py", "plugins/.airflowignore"]
    copied += ["plugins/threatstream/store/container_settings/container.json"]
    copied += ["dev/cosmos-emulator/launcher.js"]
    copied += ["dev/cosmos-emulator/package-lock.json", "tests/pipelines/test_dag_integrity.py"]
    for path in copied:
        assert not any(fnmatch.fnmatch(path, p.rstrip("/")) or path.startswith(p) for p in patterns), path
    for secret in (".env", "airflow_settings.yaml", ".venv", ".git"):
        assert secret in patterns
