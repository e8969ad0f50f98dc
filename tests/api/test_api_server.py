"""The API in a real ``airflow api-server`` (simple auth manager, login required): no token is
401, a bad token is refused, the JWT from ``POST /auth/token`` reads the seeded merged view;
the plugin is listed and its OpenAPI docs are served under its prefix.

The plugin is loaded the way a plugins-folder deployment loads it: a one-line module in the
plugins folder that imports :class:`threatstream.api.plugin.ThreatStreamApiPlugin`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from threatstream_dev.stack import free_port

pytestmark = [pytest.mark.integration, pytest.mark.emulator, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
PASSWORD = secrets.token_urlsafe(12)
TIMINGS: dict[str, float] = {}


@dataclass
class ApiServer:
    url: str
    log: Path

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token", json={"username": "analyst", "password": PASSWORD}, timeout=30
        )
        assert response.status_code in (200, 201), f"{response.text}\n{self.log.read_text()[-3000:]}"
        return str(response.json()["access_token"])


@pytest.fixture
def api_server(seeded: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An api-server with the plugin, reading the seeded merged view (database ``seeded``)."""
    home = tmp_path_factory.mktemp("api-server-home")
    plugins = home / "plugins"
    plugins.mkdir()
    (plugins / "threatstream_api_plugin.py").write_text(
        "from threatstream.api.plugin import ThreatStreamApiPlugin  # noqa: F401\n"
    )
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"analyst": PASSWORD}))
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env = {
        **inherited,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "analyst:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        # Airflow 3.0.6 with PyJWT 2.10+ cannot sign a token without an issuer.
        "AIRFLOW__API_AUTH__JWT_ISSUER": "threatstream-api-test",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW_CONN_THREATSTREAM_COSMOS": os.environ["AIRFLOW_CONN_THREATSTREAM_COSMOS"],
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dev")]),
        "PYTHONWARNINGS": "ignore:GitWildMatchPattern:DeprecationWarning",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    started = time.monotonic()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    TIMINGS["db_migrate"] = time.monotonic() - started
    log = home / "api-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        deadline = started + 180
        while True:
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"api-server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        TIMINGS["api_server_up"] = time.monotonic() - started
        yield ApiServer(url, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(f"api-server timings: {TIMINGS}")


def test_no_token_is_401_and_a_jwt_reads(api_server: ApiServer) -> None:
    base = f"{api_server.url}/threatstream/api/v1"
    for method, path, body in (
        ("GET", "/lookup?value=94.156.8.244", None),
        ("POST", "/lookup", ["94.156.8.244"]),
        ("GET", "/health", None),
    ):
        response = requests.request(method, base + path, json=body, timeout=30)
        assert response.status_code == 401, (path, response.text)
        forged = requests.request(
            method, base + path, json=body, headers={"Authorization": "Bearer forged"}, timeout=30
        )
        assert forged.status_code in (401, 403), (path, forged.text)
    headers = {"Authorization": f"Bearer {api_server.token()}"}
    started = time.monotonic()
    found = requests.get(f"{base}/lookup", params={"value": "94.156.8[.]244"}, headers=headers, timeout=30)
    TIMINGS["first_lookup"] = time.monotonic() - started
    assert found.status_code == 200, found.text
    assert found.json()["record"]["source_names"] == ["abuseipdb", "otx"]
    started = time.monotonic()
    for _ in range(20):
        requests.get(f"{base}/lookup", params={"value": "94.156.8.244"}, headers=headers, timeout=30)
    TIMINGS["lookup_mean_of_20"] = (time.monotonic() - started) / 20
    missing = requests.get(f"{base}/lookup", params={"value": "5.188.10.197"}, headers=headers, timeout=30)
    assert missing.status_code == 404
    bad = requests.get(f"{base}/lookup", params={"value": "10.0.0.1"}, headers=headers, timeout=30)
    assert bad.status_code == 400
    assert bad.json()["reason"] == "non_global_ip"
    started = time.monotonic()
    bulk = requests.post(
        f"{base}/lookup", json=["94.156.8.244", "5.188.10.197"] * 500, headers=headers, timeout=120
    )
    TIMINGS["bulk_1000"] = time.monotonic() - started
    assert bulk.status_code == 200
    assert bulk.json()["counts"] == {"found": 500, "not_found": 500, "invalid": 0, "error": 0}
    health = requests.get(f"{base}/health", headers=headers, timeout=30)
    assert health.status_code == 200, health.text
    assert {feed["source"] for feed in health.json()["feeds"]}
    # Docs under the plugin's prefix, and the plugin in Airflow's own list.
    assert requests.get(f"{api_server.url}/threatstream/openapi.json", timeout=30).json()["info"][
        "title"
    ] == ("ThreatStream")
    assert requests.get(f"{api_server.url}/threatstream/docs", timeout=30).status_code == 200
    listed = requests.get(f"{api_server.url}/api/v2/plugins", headers=headers, timeout=30).json()
    assert "threatstream_api" in {plugin["name"] for plugin in listed["plugins"]}
