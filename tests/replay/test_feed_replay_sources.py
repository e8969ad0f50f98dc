"""Replay-server features the newer sources use: mounts, POST body routes, keyless sources."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from threatstream_dev.feed_replay import TEST_KEYS, FeedReplayServer

pytestmark = pytest.mark.replay


@pytest.fixture(scope="module")
def server() -> Iterator[FeedReplayServer]:
    with FeedReplayServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(server: FeedReplayServer) -> None:
    server.reset()


def test_mounted_sources_share_a_path_without_clashing(server: FeedReplayServer) -> None:
    """ThreatFox and MalwareBazaar both answer POST /api/v1/ on their own hosts; OTX keeps /api/v1/."""
    threatfox = requests.post(
        f"{server.url}/threatfox/api/v1/",
        json={"query": "get_iocs", "days": 1},
        headers={"Auth-Key": TEST_KEYS["threatfox"]},
        timeout=5,
    )
    bazaar = requests.post(
        f"{server.url}/malwarebazaar/api/v1/",
        data={"query": "get_recent", "selector": "time"},
        headers={"Auth-Key": TEST_KEYS["malwarebazaar"]},
        timeout=5,
    )
    otx = requests.get(
        f"{server.url}/api/v1/pulses/subscribed", headers={"X-OTX-API-KEY": TEST_KEYS["otx"]}, timeout=5
    )
    assert (threatfox.status_code, bazaar.status_code, otx.status_code) == (200, 200, 200)
    assert threatfox.json()["data"][0]["ioc_type"] == "ip:port"
    assert "sha256_hash" in bazaar.json()["data"][0]
    assert [r.source for r in server.requests()] == ["threatfox", "malwarebazaar", "otx"]
    assert server.requests("threatfox")[0].path == "/threatfox/api/v1/"


def test_post_routes_match_json_and_form_fields(server: FeedReplayServer) -> None:
    url, headers = f"{server.url}/threatfox/api/v1/", {"Auth-Key": TEST_KEYS["threatfox"]}
    seven = requests.post(url, json={"query": "get_iocs", "days": 7}, headers=headers, timeout=5).json()
    eight = requests.post(url, json={"query": "get_iocs", "days": 8}, headers=headers, timeout=5).json()
    other = requests.post(url, json={"query": "search_ioc"}, headers=headers, timeout=5).json()
    not_json = requests.post(url, data=b"\xff", headers=headers, timeout=5).json()
    assert [seven["query_status"], eight["query_status"], other["query_status"]] == [
        "ok",
        "illegal_days",
        "unknown_query",
    ]
    assert not_json["query_status"] == "unknown_query"  # an unreadable body matches no field constraint
    assert [r.body for r in server.requests("threatfox")][:3] == [
        {"query": ["get_iocs"], "days": ["7"]},
        {"query": ["get_iocs"], "days": ["8"]},
        {"query": ["search_ioc"]},
    ]
    form = requests.post(
        f"{server.url}/malwarebazaar/api/v1/",
        data={"query": "get_recent", "selector": "yesterday"},
        headers={"Auth-Key": TEST_KEYS["malwarebazaar"]},
        timeout=5,
    )
    assert form.json() == {"query_status": "illegal_selector"}


def test_keyless_sources_answer_without_a_key_and_mounted_keyed_ones_check_it(
    server: FeedReplayServer,
) -> None:
    feodo = requests.get(f"{server.url}/downloads/ipblocklist.json", timeout=5)
    kev = requests.get(
        f"{server.url}/sites/default/files/feeds/known_exploited_vulnerabilities.json", timeout=5
    )
    assert (feodo.status_code, kev.status_code) == (200, 200)
    assert isinstance(feodo.json(), list)
    refused = requests.post(
        f"{server.url}/threatfox/api/v1/", json={"query": "get_iocs", "days": 1}, timeout=5
    )
    assert (refused.status_code, refused.json()["query_status"]) == (401, "auth_key_required")


def test_taxii_server_discovery_points_at_the_server_and_bearer_or_basic_auth(
    server: FeedReplayServer,
) -> None:
    bearer = {"Authorization": f"Bearer {TEST_KEYS['taxii']}"}
    discovery = requests.get(f"{server.url}/taxii2/", headers=bearer, timeout=5)
    assert discovery.headers["Content-Type"] == "application/taxii+json;version=2.1"
    assert discovery.json()["default"] == f"{server.url}/trustgroup1/"
    basic = requests.get(f"{server.url}/taxii2/", auth=("taxii-user", TEST_KEYS["taxii"]), timeout=5)
    wrong = requests.get(f"{server.url}/taxii2/", auth=("taxii-user", "nope"), timeout=5)
    assert (basic.status_code, wrong.status_code) == (200, 401)
    assert wrong.json()["title"] == "Unauthorized"
    assert {r.headers.get("Authorization") for r in server.requests("taxii")} == {"<redacted>"}


def test_connection_json_of_a_mounted_source_names_its_base_url(server: FeedReplayServer) -> None:
    connection = json.loads(server.connection_json("threatfox"))
    assert connection["host"] == f"{server.url}/threatfox"
    assert "port" not in connection
    assert connection["password"] == TEST_KEYS["threatfox"]
    assert "password" not in json.loads(server.connection_json("feodo"))  # keyless: no key
