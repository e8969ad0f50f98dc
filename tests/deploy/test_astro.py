"""The Astronomer project files: what `astro dev start` / `astro deploy` read."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from threatstream.sources import all_sources
from threatstream.store.indicators import IndicatorStoreHook

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


def test_settings_hold_every_connection_with_placeholder_secrets_only(settings: dict[str, Any]) -> None:
    connections = {c["conn_id"]: c for c in settings["connections"]}
    needed = {spec.hook_class.default_conn_name for spec in all_sources()}  # list feeds too
    needed.add(IndicatorStoreHook.default_conn_name)
    assert needed <= set(connections)
    for conn_id, conn in connections.items():
        password = conn.get("conn_password") or ""
        assert password == "" or re.fullmatch(r"<[^<>]+>", password), f"{conn_id}: real-looking secret"
        for value in (conn.get("conn_extra") or {}).values():
            assert "AccountKey=" not in str(value)


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
