"""docker-compose.yaml: valid for Compose, and it provides everything the code reads.

No Docker engine runs here: ``docker-compose config`` (no daemon needed) validates and resolves
the file; the images are not built or started. The file needs Compose v2.24+ (``env_file`` entries
with ``required: false``); Debian's docker-compose 1.29 predates that syntax, so with it the test
validates a copy whose env files are plain paths, and the long syntax is checked structurally.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml

from threatstream.settings import options
from threatstream.sources import all_sources
from threatstream.store.indicators import IndicatorStoreHook
from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
#: The defaults every Airflow container reads; ``.env`` (optional) overrides them.
DEFAULTS = "deploy/compose/local-stack.env"
#: The services that parse DAGs or run tasks: each needs every connection and setting.
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
)
STORAGE_CONN_ID = "threatstream_storage"
#: Every source the DAG files build, the list feeds of include/feeds/lists included.
SOURCE_CONN_IDS = {spec.name: spec.hook_class.default_conn_name for spec in all_sources()}


def _env_file(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value
    return entries


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _env_files(spec: dict[str, Any]) -> list[tuple[str, bool]]:
    """A service's env files in reading order: (path, required), short or long syntax."""
    entries = spec.get("env_file", [])
    entries = [entries] if isinstance(entries, str | dict) else entries
    return [(e, True) if isinstance(e, str) else (e["path"], e.get("required", True)) for e in entries]


def _environment(compose: dict[str, Any], service: str, dot_env: Path | None = None) -> dict[str, str]:
    """A service's container environment as Compose builds it: its env files in order (the
    optional ``.env`` from ``dot_env``, absent by default), then ``environment``."""
    spec = compose["services"][service]
    env: dict[str, str] = {}
    for path, required in _env_files(spec):
        if path == ".env":
            assert not required, "a missing .env must not stop the stack"
            if dot_env is not None:
                env.update(_env_file(dot_env))
        else:
            env.update(_env_file(REPO / path))
    env.update({k: str(v) for k, v in (spec.get("environment") or {}).items()})
    return env


def _mounts(compose: dict[str, Any], service: str) -> dict[str, Path]:
    """Container path -> repository path of a service's bind mounts."""
    mounts = {}
    for volume in compose["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = REPO / source
    return mounts


def _code_reads(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in (REPO / "plugins" / "threatstream").rglob("*.py"):
        found.update(re.findall(pattern, path.read_text()))
    return found


def _compose_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run(
        [binary, "version", "--short"], capture_output=True, text=True, timeout=60, check=False
    )
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out.stdout)
    return tuple(int(part) for part in found.groups()) if found else (0,)


def test_docker_compose_config_accepts_the_file_without_a_dot_env(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    (tmp_path / DEFAULTS).parent.mkdir(parents=True)
    shutil.copy(REPO / DEFAULTS, tmp_path / DEFAULTS)
    if _compose_version(binary) >= (2, 24, 0):
        shutil.copy(COMPOSE, tmp_path / "docker-compose.yaml")
    else:
        # Compose v1 knows env files as paths only: the same file with the files that exist.
        plain = json.loads(json.dumps(compose))
        for spec in plain["services"].values():
            if "env_file" in spec:
                spec["env_file"] = [path for path, _ in _env_files(spec) if (tmp_path / path).is_file()]
        (tmp_path / "docker-compose.yaml").write_text(yaml.safe_dump(plain, sort_keys=False))
    assert not (tmp_path / ".env").exists()
    for profile in ([], ["--profile", "official-cosmos"]):
        checked = subprocess.run(
            [binary, *profile, "config", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
    resolved = subprocess.run(
        [binary, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    services = yaml.safe_load(resolved.stdout)["services"]
    for service in AIRFLOW_SERVICES:
        env = services[service]["environment"]
        assert env["AIRFLOW_CONN_THREATSTREAM_COSMOS"].startswith("{"), service
        assert env["AIRFLOW__THREATSTREAM__STORAGE_BASE"].startswith("abfs://"), service


def test_runs_without_a_dot_env_which_overrides_the_defaults(compose: dict[str, Any], tmp_path: Path) -> None:
    """The committed defaults are read first and required; ``.env`` is optional and read last."""
    for service in (*AIRFLOW_SERVICES, "airflow-init"):
        files = _env_files(compose["services"][service])
        assert files == [(DEFAULTS, True), (".env", False)], service
        # Long syntax, as Compose v2.24+ needs for `required: false`.
        assert all(isinstance(e, dict) for e in compose["services"][service]["env_file"]), service
    assert (REPO / DEFAULTS).is_file()
    assert "v2.24" in COMPOSE.read_text()  # the header names the Compose version it needs
    # A value in .env wins over the default.
    override = '{"conn_type":"http","schema":"https","host":"otx.alienvault.com","password":"k"}'
    dot_env = tmp_path / ".env"
    dot_env.write_text(f"AIRFLOW_CONN_THREATSTREAM_OTX={override}\n")
    env = _environment(compose, "airflow-worker", dot_env)
    assert env["AIRFLOW_CONN_THREATSTREAM_OTX"] == override
    assert (
        env["AIRFLOW_CONN_THREATSTREAM_COSMOS"]
        == _environment(compose, "airflow-worker")["AIRFLOW_CONN_THREATSTREAM_COSMOS"]
    )


def test_env_example_holds_overrides_that_parse_and_a_fernet_key_recipe() -> None:
    text = ENV_EXAMPLE.read_text()
    active = _env_file(ENV_EXAMPLE)
    # Copied as it is, .env changes nothing the stack needs (no empty value hides a default).
    assert all(value.strip() for value in active.values()), active
    assert set(active) <= {"AIRFLOW_UID"} | set(_env_file(REPO / DEFAULTS)), set(active)
    # Commented examples of real-feed connections are valid one-line JSON once uncommented.
    examples = re.findall(r"^# (AIRFLOW_CONN_\w+)=(\{.*\})$", text, re.M)
    assert examples
    for name, value in examples:
        assert json.loads(value)["conn_type"], name
    # The Fernet one-liner gives a key Airflow's Fernet accepts.
    recipe = re.search(r"^#\s+(openssl rand -base64 32 \| tr '\+/' '-_')$", text, re.M)
    assert recipe, "the Fernet key one-liner"
    assert "AIRFLOW__CORE__FERNET_KEY" in text
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the one-liner was not run")
    key = subprocess.run(["sh", "-c", recipe[1]], capture_output=True, text=True, timeout=30, check=True)
    from cryptography.fernet import Fernet

    fernet = Fernet(key.stdout.strip().encode())
    assert fernet.decrypt(fernet.encrypt(b"conn")) == b"conn"


def test_every_image_is_pinned_to_a_fixed_tag(compose: dict[str, Any]) -> None:
    moving = {"latest", "stable", "preview", "vnext-preview", "vnext-latest", "mongodb"}
    for name, spec in compose["services"].items():
        if "build" in spec:
            continue  # built from a pinned base (test below)
        image = spec["image"]
        assert "@sha256:" in image or ":" in image.rsplit("/", 1)[-1], (name, image)
        tag = image.rsplit(":", 1)[-1]
        assert tag not in moving, (name, image)
    official = compose["services"]["cosmos-official"]["image"]
    assert re.fullmatch(r"mcr\.microsoft\.com/cosmosdb/linux/azure-cosmos-emulator:vnext-EN\d{8}", official)


def test_layout_follows_airflows_own_compose(compose: dict[str, Any]) -> None:
    assert set(AIRFLOW_SERVICES) | {"airflow-init", "postgres", "redis"} <= set(compose["services"])
    assert {"azurite", "cosmos", "feed-replay"} <= set(compose["services"])
    commands = {s: compose["services"][s]["command"] for s in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-worker": "celery worker",
        "airflow-triggerer": "triggerer",
    }
    for service in (*AIRFLOW_SERVICES, "airflow-init"):
        env = _environment(compose, service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env


def test_every_connection_the_code_reads_is_provided(compose: dict[str, Any]) -> None:
    conn_ids = set(SOURCE_CONN_IDS.values()) | {IndicatorStoreHook.default_conn_name, STORAGE_CONN_ID}
    for service in AIRFLOW_SERVICES:
        env = _environment(compose, service)
        for conn_id in sorted(conn_ids):
            value = env.get(f"AIRFLOW_CONN_{conn_id.upper()}")
            assert value, f"{service} lacks connection {conn_id}"
            assert "conn_type" in json.loads(value), conn_id


def test_connections_point_at_the_compose_services(compose: dict[str, Any]) -> None:
    env = _environment(compose, "airflow-worker")
    services = set(compose["services"])
    replay = FeedReplayServer()  # not started: its sources, mounts and keys
    for source, conn_id in SOURCE_CONN_IDS.items():
        conn = json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])
        base = _base_url(conn)
        assert base.hostname in services, source
        if base.hostname == "feed-replay":
            assert source in replay.sources, f"the replay server does not serve {source}"
            assert base.port == 8000, source  # feed-replay's --port
            # A mounted source (ThreatFox, MalwareBazaar) is served below its mount only.
            assert base.path.rstrip("/") == replay.sources[source].mount, source
            assert conn.get("password", "") == TEST_KEYS.get(source, ""), source  # accepted by the server
    cosmos = json.loads(env["AIRFLOW_CONN_THREATSTREAM_COSMOS"])
    assert cosmos["conn_type"] == "azure_cosmos"
    assert re.match(r"http://cosmos:8081/?$", cosmos["login"])
    storage = json.loads(env[f"AIRFLOW_CONN_{STORAGE_CONN_ID.upper()}"])
    assert "BlobEndpoint=http://azurite:10000/devstoreaccount1" in storage["extra"]["connection_string"]
    assert env["AIRFLOW__THREATSTREAM__STORAGE_BASE"].startswith("abfs://")
    assert env["AIRFLOW__THREATSTREAM__STORAGE_CONN_ID"] == STORAGE_CONN_ID


def _base_url(conn: dict[str, Any]) -> SplitResult:
    """The base URL an HTTP connection gives, as HttpHook builds it (a ``host`` may be a whole URL)."""
    host = str(conn["host"])
    base = host if "://" in host else f"{conn.get('schema') or 'http'}://{host}"
    if conn.get("port"):
        base = f"{base}:{conn['port']}"
    return urlsplit(base)


def test_settings_in_the_compose_stack_are_ones_the_code_reads(compose: dict[str, Any]) -> None:
    declared = {option.name for option in options()}
    assert {"storage_base", "storage_conn_id", "retention_days", "quarantine_retention_days"} <= declared
    env = _environment(compose, "airflow-worker")
    configured = {k.removeprefix("AIRFLOW__THREATSTREAM__").lower() for k in env if "__THREATSTREAM__" in k}
    assert {"storage_base", "storage_conn_id"} <= configured
    assert configured <= declared, f"settings nothing reads: {configured - declared}"


def test_env_vars_and_paths_the_code_reads_exist_in_the_containers(compose: dict[str, Any]) -> None:
    # Read directly, or through the declarative sources' specs_dir("THREATSTREAM_..._SPECS", ...).
    env_vars = _code_reads(r'(?:os\.environ(?:\.get\(|\[)|specs_dir\()\s*"(THREATSTREAM_\w+)"')
    specs = {"THREATSTREAM_LIST_SPECS", "THREATSTREAM_MISP_SPECS"}
    assert {"THREATSTREAM_CONTAINER_SETTINGS", *specs} <= env_vars
    # The Cosmos container settings ship in the package: their override stays unset.
    overrides = {"THREATSTREAM_CONTAINER_SETTINGS"}
    for service in AIRFLOW_SERVICES:
        env = _environment(compose, service)
        mounts = _mounts(compose, service)
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= set(mounts), service
        assert mounts["/opt/airflow/plugins"] == REPO / "plugins"
        assert not overrides & set(env), service
        for name in env_vars - overrides:
            value = env.get(name)
            assert value, f"{service} lacks {name}"
            target = next(t for t in mounts if value.startswith(t + "/"))
            path = mounts[target] / value.removeprefix(target + "/")
            # A settings file, or a folder of specs (THREATSTREAM_LIST_SPECS) that holds some.
            assert path.is_file() or any(path.glob("*.json")), value
    assert (REPO / "plugins" / ".airflowignore").is_file()
    replay = _mounts(compose, "feed-replay")
    assert replay["/opt/airflow/dev"] == REPO / "dev"
    assert (replay["/opt/airflow/include"] / "feeds").is_dir()


def test_images_are_built_from_pinned_bases_with_requirements_installed(compose: dict[str, Any]) -> None:
    for service in ("airflow-worker", "cosmos"):
        build = compose["services"][service]["build"]
        dockerfile = REPO / build["context"] / build["dockerfile"]
        lines = dockerfile.read_text().splitlines()
        base = next(line.split()[1] for line in lines if line.startswith("FROM "))
        assert ":" in base, base
        assert not base.endswith(":latest"), base
    airflow_dockerfile = (REPO / "deploy" / "compose" / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.\d+\.\d+-python3\.\d+$", airflow_dockerfile, re.M)
    assert "-r /opt/threatstream/requirements.txt" in airflow_dockerfile
    assert "COPY --chown=airflow:0 requirements.txt" in airflow_dockerfile
