"""The feed replay server: routing, auth, paging, faults, scenarios, the request log, and fixture content."""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from threatstream_dev.feed_replay import DEFAULT_FIXTURES_DIR, TEST_KEYS, FeedReplayServer

pytestmark = pytest.mark.replay

AUTH_HEADERS = {
    "urlhaus": "Auth-Key",
    "otx": "X-OTX-API-KEY",
    "abuseipdb": "Key",
    "threatfox": "Auth-Key",
    "malwarebazaar": "Auth-Key",
    "taxii": "Authorization",
}
MAIN_PATHS = {
    "urlhaus": "/v1/urls/recent/",
    "otx": "/api/v1/pulses/subscribed",
    "abuseipdb": "/api/v2/blacklist",
}
ABUSEIPDB_AUTH_ERROR = {
    "errors": [
        {
            "detail": "Authentication failed. Your API key is either missing, incorrect, or revoked. "
            "Note: The APIv2 key differs from the APIv1 key.",
            "status": 401,
        }
    ]
}
OTX_TYPES = {
    "IPv4", "IPv6", "domain", "hostname", "email", "URL", "URI", "FileHash-MD5", "FileHash-SHA1",
    "FileHash-SHA256", "FileHash-PEHASH", "FileHash-IMPHASH", "CIDR", "FilePath", "Mutex", "CVE", "YARA",
    "JA3", "osquery", "SSLCertFingerprint", "BitcoinAddress",
}  # fmt: skip
MORE_PULSE = "6651a0c2f1e3b8a0d4c2e901"
THE_TEST_KEY = "<the source's test key>"
FIXTURE_NOW = datetime(2026, 5, 30, 12, 0, 0)  # the fixtures' "today" (naive UTC, like OTX)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedReplayServer]:
    with FeedReplayServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(server: FeedReplayServer) -> None:
    server.reset()


def get(
    server: FeedReplayServer, source: str, path: str, key: str | None = THE_TEST_KEY, **params: Any
) -> requests.Response:
    """GET ``path`` (or an absolute URL) with ``source``'s auth header; ``key=None`` sends none."""
    if key == THE_TEST_KEY:
        key = TEST_KEYS[source]
    headers = {} if key is None else {AUTH_HEADERS[source]: key}
    url = path if path.startswith("http") else server.url + path
    return requests.get(url, headers=headers, params=params, timeout=5)


def load(source: str, name: str) -> Any:
    return json.loads((DEFAULT_FIXTURES_DIR / source / name).read_text(encoding="utf-8"))


# -- fixtures on disk ------------------------------------------------------------------------------


def test_fixture_json_files_all_parse_and_every_body_file_is_routed() -> None:
    json_files = sorted(DEFAULT_FIXTURES_DIR.glob("*/*.json"))
    routed = {p.parent.name for p in DEFAULT_FIXTURES_DIR.glob("*/routes.json")}
    assert set(TEST_KEYS) <= routed
    assert {p.parent.name for p in json_files} - routed <= {"lists", "misp"}  # specs, not fixtures
    for path in json_files:
        json.loads(path.read_text(encoding="utf-8"))
    for source in routed:
        routes = load(source, "routes.json")
        if source in TEST_KEYS:
            assert any(TEST_KEYS[source] in key for key in routes["auth"]["keys"]), source
            assert routes["auth"]["header"] == AUTH_HEADERS[source]
        else:
            assert "auth" not in routes, f"{source}: a keyed source needs a TEST_KEYS entry"
        named = {r["body_file"] for rs in routes["scenarios"].values() for r in rs if "body_file" in r}
        on_disk = {p.name for p in (DEFAULT_FIXTURES_DIR / source).iterdir()} - {"routes.json"}
        assert named == on_disk, f"{source}: unrouted or missing body files"


# -- serving, auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(MAIN_PATHS))
def test_each_source_serves_its_fixture_with_the_right_key(server: FeedReplayServer, source: str) -> None:
    response = get(server, source, MAIN_PATHS[source])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    body = response.json()
    expected_key = {"urlhaus": "urls", "otx": "results", "abuseipdb": "data"}[source]
    assert len(body[expected_key]) > 0


@pytest.mark.parametrize(
    ("source", "key", "status", "body"),
    [
        ("urlhaus", None, 401, {"query_status": "auth_key_required", "data": None}),
        ("urlhaus", "wrong", 403, {"query_status": "unknown_auth_key"}),
        ("otx", None, 403, {"detail": "Authentication required"}),
        ("otx", "wrong", 403, {"detail": "Authentication required"}),
        ("abuseipdb", None, 401, ABUSEIPDB_AUTH_ERROR),
        ("abuseipdb", "wrong", 401, ABUSEIPDB_AUTH_ERROR),
    ],
)
def test_missing_or_wrong_key_gets_the_real_error(
    server: FeedReplayServer, source: str, key: str | None, status: int, body: object
) -> None:
    response = get(server, source, MAIN_PATHS[source], key=key)
    assert response.status_code == status
    assert response.json() == body
    assert server.requests(source)[-1].status == status


def test_a_key_for_another_source_is_rejected(server: FeedReplayServer) -> None:
    response = get(server, "otx", MAIN_PATHS["otx"], key=TEST_KEYS["urlhaus"])
    assert response.status_code == 403


def test_unknown_path_is_a_json_404(server: FeedReplayServer) -> None:
    for path in ("/nope", "/v1/urls/unknown/", "/api/v2/check"):
        headers = {"Auth-Key": TEST_KEYS["urlhaus"], "Key": TEST_KEYS["abuseipdb"]}
        response = requests.get(server.url + path, headers=headers, timeout=5)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "application/json"
        assert "error" in response.json()


def test_keep_alive_serves_several_requests_on_one_connection(server: FeedReplayServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        sockets = set()
        for _ in range(3):
            conn.request("GET", "/api/v2/blacklist?limit=1", headers={"Key": TEST_KEYS["abuseipdb"]})
            response = conn.getresponse()
            assert response.status == 200
            assert len(json.loads(response.read())["data"]) == 1
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
    finally:
        conn.close()


# -- limits ----------------------------------------------------------------------------------------


def test_urlhaus_limit_returns_the_first_n(server: FeedReplayServer) -> None:
    everything = get(server, "urlhaus", "/v1/urls/recent/").json()["urls"]
    five = get(server, "urlhaus", "/v1/urls/recent/limit/5/").json()
    assert five["query_status"] == "ok"
    assert five["urls"] == everything[:5]
    assert get(server, "urlhaus", "/v1/urls/recent/limit/1000/").json()["urls"] == everything
    assert get(server, "urlhaus", "/v1/urls/recent/limit/abc/").status_code == 400


def test_abuseipdb_limit_and_plaintext(server: FeedReplayServer) -> None:
    full = get(server, "abuseipdb", "/api/v2/blacklist", confidenceMinimum=100)
    assert full.headers["X-RateLimit-Limit"] == "5"
    assert full.headers["X-RateLimit-Remaining"] == "4"
    rows = full.json()["data"]
    limited = get(server, "abuseipdb", "/api/v2/blacklist", limit=3).json()
    assert limited["data"] == rows[:3]
    assert limited["meta"] == full.json()["meta"]

    plain = get(server, "abuseipdb", "/api/v2/blacklist", plaintext="")
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert plain.text.splitlines() == [row["ipAddress"] for row in rows]
    plain_limited = get(server, "abuseipdb", "/api/v2/blacklist", plaintext="", limit=2)
    assert plain_limited.text.splitlines() == [row["ipAddress"] for row in rows[:2]]


# -- OTX paging ------------------------------------------------------------------------------------


def walk(server: FeedReplayServer, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow ``next`` like a careful client: stop on null ``next`` or empty ``results``."""
    pages = []
    response = get(server, "otx", path, **params)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        if not page["results"] or page["next"] is None:
            return pages
        assert page["next"].startswith(server.url + path), page["next"]
        response = get(server, "otx", page["next"])


def test_otx_next_chain_points_at_the_server_and_ends(server: FeedReplayServer) -> None:
    pages = walk(server, "/api/v1/pulses/subscribed", limit=3, modified_since="2026-05-01T00:00:00")
    assert len(pages) == 3
    assert [len(p["results"]) for p in pages] == [3, 2, 3]
    assert pages[-1]["next"] is None
    assert pages[0]["previous"] is None
    assert pages[1]["previous"].startswith(server.url)
    assert all(p["count"] == 8 for p in pages)
    ids = [pulse["id"] for page in pages for pulse in page["results"]]
    assert len(ids) == len(set(ids)) == 8
    assert [r.query.get("page") for r in server.requests("otx")] == [None, ["2"], ["3"]]
    assert server.requests("otx")[0].query["modified_since"] == ["2026-05-01T00:00:00"]


def test_otx_page_one_explicitly_and_out_of_range(server: FeedReplayServer) -> None:
    first = get(server, "otx", "/api/v1/pulses/subscribed").json()
    assert get(server, "otx", "/api/v1/pulses/subscribed", page=1).json() == first
    beyond = get(server, "otx", "/api/v1/pulses/subscribed", page=9)
    assert beyond.status_code == 404
    assert beyond.json() == {"detail": "Invalid page."}


def test_otx_more_indicators_endpoint_pages_the_full_list(server: FeedReplayServer) -> None:
    first = get(server, "otx", "/api/v1/pulses/subscribed").json()
    pulse = next(p for p in first["results"] if p["more_indicators"])
    assert pulse["id"] == MORE_PULSE
    pages = walk(server, f"/api/v1/pulses/{MORE_PULSE}/indicators")
    assert len(pages) == 2
    assert pages[-1]["next"] is None
    full = [ind for page in pages for ind in page["results"]]
    assert len(full) == pages[0]["count"] == 7
    assert {i["id"] for i in pulse["indicators"]} < {i["id"] for i in full}


# -- faults ----------------------------------------------------------------------------------------


def test_fault_is_served_times_then_recovers(server: FeedReplayServer) -> None:
    server.inject_fault("urlhaus", status=503, body='{"query_status":"error"}', times=2)
    statuses = [get(server, "urlhaus", "/v1/urls/recent/").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [r.status for r in server.requests("urlhaus")] == statuses


def test_fault_shapes_504_html_and_bare_429(server: FeedReplayServer) -> None:
    html = "<html><body><h1>504 Gateway Time-out</h1></body></html>"
    server.inject_fault("otx", status=504, body=html)
    server.inject_fault("otx", status=429)
    timeout = get(server, "otx", "/api/v1/pulses/subscribed")
    assert timeout.status_code == 504
    assert timeout.headers["Content-Type"].startswith("text/html")
    assert timeout.text == html
    limited = get(server, "otx", "/api/v1/pulses/subscribed")
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert limited.content == b""
    assert get(server, "otx", "/api/v1/pulses/subscribed").status_code == 200


def test_fault_with_headers_and_a_path_with_query(server: FeedReplayServer) -> None:
    page_2 = "/api/v1/pulses/subscribed?page=2"
    server.inject_fault("otx", status=502, headers={"Retry-After": "1"}, body=b"bad gateway", path=page_2)
    assert get(server, "otx", "/api/v1/pulses/subscribed").status_code == 200
    assert get(server, "otx", f"/api/v1/pulses/{MORE_PULSE}/indicators", page=2).status_code == 200
    failed = get(server, "otx", "/api/v1/pulses/subscribed", page=2)
    assert failed.status_code == 502
    assert failed.headers["Retry-After"] == "1"
    assert get(server, "otx", "/api/v1/pulses/subscribed", page=2).status_code == 200


def test_faults_come_before_auth_and_stay_within_their_source(server: FeedReplayServer) -> None:
    server.inject_fault("abuseipdb", status=500)
    assert get(server, "urlhaus", "/v1/urls/recent/").status_code == 200
    assert get(server, "abuseipdb", "/api/v2/blacklist", key=None).status_code == 500
    assert get(server, "abuseipdb", "/api/v2/blacklist", key=None).status_code == 401


def test_bad_fault_arguments_raise(server: FeedReplayServer) -> None:
    with pytest.raises(ValueError, match="unknown source"):
        server.inject_fault("virustotal", status=500)
    with pytest.raises(ValueError, match="bad fault"):
        server.inject_fault("otx", status=500, times=0)


# -- scenarios -------------------------------------------------------------------------------------


def test_urlhaus_no_results_scenario_and_back(server: FeedReplayServer) -> None:
    server.use_scenario("urlhaus", "no_results")
    assert get(server, "urlhaus", "/v1/urls/recent/").json() == {"query_status": "no_results"}
    assert get(server, "urlhaus", "/v1/urls/recent/limit/10/").json() == {"query_status": "no_results"}
    server.use_scenario("urlhaus", "default")
    assert get(server, "urlhaus", "/v1/urls/recent/").json()["query_status"] == "ok"


def test_otx_empty_page_scenario(server: FeedReplayServer) -> None:
    server.use_scenario("otx", "empty_page")
    pages = walk(server, "/api/v1/pulses/subscribed")
    assert [len(p["results"]) for p in pages] == [3, 2, 3, 0]
    assert pages[-1]["next"] is not None  # the client stopped on the empty results
    assert get(server, "otx", pages[-1]["next"]).status_code == 404


def test_otx_foreign_next_scenario(server: FeedReplayServer) -> None:
    server.use_scenario("otx", "foreign_next")
    page = get(server, "otx", "/api/v1/pulses/subscribed").json()
    assert urlsplit(page["next"]).hostname == "otx.attacker.example"
    assert len(page["results"]) == 3
    # routes the scenario does not override still come from the default set
    assert get(server, "otx", "/api/v1/pulses/subscribed", page=2).status_code == 200


def test_abuseipdb_rate_limited_scenario(server: FeedReplayServer) -> None:
    server.use_scenario("abuseipdb", "rate_limited")
    response = get(server, "abuseipdb", "/api/v2/blacklist")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "53998"
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == "1780185600"
    assert response.json()["errors"][0]["status"] == 429


def test_unknown_scenario_raises_and_reset_restores_default(server: FeedReplayServer) -> None:
    with pytest.raises(ValueError, match="no scenario"):
        server.use_scenario("otx", "no_results")
    server.use_scenario("urlhaus", "no_results")
    server.inject_fault("urlhaus", status=500, times=5)
    server.reset()
    assert get(server, "urlhaus", "/v1/urls/recent/").json()["query_status"] == "ok"


# -- request log -----------------------------------------------------------------------------------


def test_request_log_records_query_and_redacts_keys(server: FeedReplayServer) -> None:
    get(server, "abuseipdb", "/api/v2/blacklist", confidenceMinimum=100, limit=10, key="some-bad-key")
    get(server, "abuseipdb", "/api/v2/blacklist", ipVersion=6, key=TEST_KEYS["abuseipdb"])
    requests.get(f"{server.url}/api/v2/blacklist?key={TEST_KEYS['abuseipdb']}", timeout=5)
    get(server, "otx", "/api/v1/pulses/subscribed", limit=20, modified_since="2026-05-01T00:00:00+00:00")
    get(server, "urlhaus", "/v1/urls/recent/")

    log = server.requests()
    assert [r.source for r in log] == ["abuseipdb", "abuseipdb", "abuseipdb", "otx", "urlhaus"]
    assert len(server.requests("abuseipdb")) == 3
    first = log[0]
    assert (first.method, first.path, first.status) == ("GET", "/api/v2/blacklist", 401)
    assert first.query == {"confidenceMinimum": ["100"], "limit": ["10"]}
    assert first.headers["Key"] == "<redacted>"
    assert log[2].query == {"key": ["<redacted>"]}
    assert log[3].query["modified_since"] == ["2026-05-01T00:00:00+00:00"]
    assert log[0].timestamp <= log[-1].timestamp
    assert log[0].timestamp.tzinfo is not None
    dumped = repr(log) + json.dumps([r.to_json() for r in log])
    for secret in [*TEST_KEYS.values(), "some-bad-key"]:
        assert secret not in dumped


# -- control over HTTP -----------------------------------------------------------------------------


def test_http_control_endpoints(server: FeedReplayServer) -> None:
    control = server.url + "/_replay"
    fault = {"source": "otx", "status": 504, "body": "<html>timeout</html>", "times": 1}
    assert requests.post(f"{control}/faults", json=fault, timeout=5).json() == {"ok": True}
    assert requests.get(f"{control}/status", timeout=5).json()["pending_faults"] == 1
    assert get(server, "otx", "/api/v1/pulses/subscribed").status_code == 504

    scenario = {"source": "urlhaus", "scenario": "no_results"}
    assert requests.post(f"{control}/scenario", json=scenario, timeout=5).status_code == 200
    assert get(server, "urlhaus", "/v1/urls/recent/").json()["query_status"] == "no_results"

    logged = requests.get(f"{control}/requests", params={"source": "urlhaus"}, timeout=5).json()
    assert [(r["source"], r["path"], r["status"]) for r in logged] == [("urlhaus", "/v1/urls/recent/", 200)]
    assert logged[0]["headers"]["Auth-Key"] == "<redacted>"
    assert len(requests.get(f"{control}/requests", timeout=5).json()) == 2  # control calls are not logged

    status = requests.get(f"{control}/status", timeout=5).json()
    assert status["scenarios"] == dict.fromkeys(server.sources, "default") | {"urlhaus": "no_results"}
    assert requests.post(f"{control}/reset", timeout=5).status_code == 200
    assert server.requests() == []
    assert get(server, "urlhaus", "/v1/urls/recent/").json()["query_status"] == "ok"

    bad = requests.post(f"{control}/scenario", json={"source": "otx", "scenario": "nope"}, timeout=5)
    assert bad.status_code == 400
    assert requests.post(f"{control}/faults", json={"status": 500}, timeout=5).status_code == 400
    assert requests.get(f"{control}/nope", timeout=5).status_code == 404


def test_connection_json(server: FeedReplayServer) -> None:
    conn = json.loads(server.connection_json("abuseipdb"))
    assert conn == {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.port,
        "schema": "http",
        "password": "abuseipdb-test-key",
        "extra": {"timeout": 10},
    }
    custom = json.loads(server.connection_json("otx", key="other", extra={"timeout": 3, "page_limit": 20}))
    assert custom["password"] == "other"
    assert custom["extra"] == {"timeout": 3, "page_limit": 20}
    assert "password" not in json.loads(server.connection_json("urlhaus", key=""))
    assert f"{conn['schema']}://{conn['host']}:{conn['port']}" == server.url


def test_cli_runs_in_the_foreground(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(DEFAULT_FIXTURES_DIR.parents[1] / "dev")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "threatstream_dev.feed_replay", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(r"Feed replay server at (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        status = requests.get(match.group(1) + "/_replay/status", timeout=5).json()
        assert status["sources"] == sorted(p.parent.name for p in DEFAULT_FIXTURES_DIR.glob("*/routes.json"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- fixture content checklist (feeds.md section 7) ------------------------------------------------


def reference_canonical(url: str) -> str:
    """Minimal RFC 3986 normalisation, only to pin the URLhaus fixture's expected counts."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    host = parts.hostname
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        netloc = host.encode("idna").decode("ascii")
    else:
        if not ip.is_global:
            raise ValueError("non-public IP host")
        netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    if parts.port not in (None, {"http": 80, "https": 443}[scheme]):
        netloc += f":{parts.port}"

    def upper_escapes(text: str) -> str:
        return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group().upper(), text)

    query = f"?{upper_escapes(parts.query)}" if parts.query else ""
    return f"{scheme}://{netloc}{upper_escapes(parts.path or '/')}{query}"


def test_urlhaus_fixture_content() -> None:
    body = load("urlhaus", "urls_recent.json")
    assert body["query_status"] == "ok"
    records = body["urls"]
    assert len(records) == 34
    assert len({r["id"] for r in records}) == 34
    assert all(isinstance(r["id"], str) and r["larted"] in ("true", "false") for r in records)
    assert all(r["date_added"].endswith(" UTC") for r in records)
    dates = [r["date_added"] for r in records]
    assert dates == sorted(dates, reverse=True)  # newest first
    urls = [r["url"] for r in records]
    for edge in (
        "HTTP://EVIL.Example.COM:80/Path",
        "http://evil.example.com/Path",
        "http://bücher.example/download/setup.exe",
        "https://login.example.net:443/secure/verify.php",
        "http://files.example.net/dl%2fpayload.exe",
        "http://files.example.net/dl%2Fpayload.exe",
        "http://phish.example.org/?id=42&lang=en#top",
        "http://[2a01:4f8:c17:1::1]:8080/bins/x86",
        "",
        "not a url",
        "http://192.168.1.10/x",
    ):
        assert edge in urls, edge
    assert sum(r["tags"] is None for r in records) == 2
    assert any(r["tags"] == [] for r in records)

    canonical, rejected = {}, {}
    for url in urls:
        try:
            canonical[url] = reference_canonical(url)
        except ValueError as exc:
            rejected[url] = str(exc)
    assert rejected == {
        "": "not an http(s) URL",
        "not a url": "not an http(s) URL",
        "http://192.168.1.10/x": "non-public IP host",
    }
    assert len(canonical) == 31
    assert len(set(canonical.values())) == 29
    assert canonical["HTTP://EVIL.Example.COM:80/Path"] == canonical["http://evil.example.com/Path"]
    assert (
        canonical["http://files.example.net/dl%2fpayload.exe"] == "http://files.example.net/dl%2Fpayload.exe"
    )
    assert canonical["http://bücher.example/download/setup.exe"].startswith("http://xn--bcher-kva.example/")


def otx_pulses() -> list[dict[str, Any]]:
    return [p for n in (1, 2, 3) for p in load("otx", f"subscribed_page{n}.json")["results"]]


def test_otx_fixture_content() -> None:
    pulses = otx_pulses()
    indicators = [i for p in pulses for i in p["indicators"]]
    assert len(pulses) == 8
    assert len(indicators) == 36
    assert {i["type"] for i in indicators} == OTX_TYPES | {"NIDS"}
    assert len({i["id"] for i in indicators}) == 36

    assert {repr(i["is_active"]) for i in indicators} == {"1", "0", "'0'"}
    expirations = [datetime.fromisoformat(i["expiration"]) for i in indicators if i["expiration"]]
    assert any(e < FIXTURE_NOW for e in expirations)
    assert any(e > FIXTURE_NOW for e in expirations)
    cidrs = [ipaddress.ip_network(i["indicator"]) for i in indicators if i["type"] == "CIDR"]
    assert {c.version for c in cidrs} == {4, 6}
    yara = next(i for i in indicators if i["type"] == "YARA")
    assert yara["content"].startswith("rule ")
    assert sum(i["indicator"] == "172.67.177.165" for i in indicators) == 2  # same IOC in two pulses

    assert {p.get("tlp") or p.get("TLP") for p in pulses} == {"white", "green", "amber"}
    assert any("tlp" in p for p in pulses)
    assert any("TLP" in p for p in pulses)
    assert {repr(p["public"]) for p in pulses} == {"1", "True"}
    fractions = {len(ts.partition(".")[2]) for p in pulses for ts in (p["created"], p["modified"])}
    assert fractions >= {0, 3, 6}
    for field in ("malware_families", "attack_ids"):
        shapes = {type(v).__name__ for p in pulses for v in p[field]}
        assert shapes == {"str", "dict"}, field
        for value in (v for p in pulses for v in p[field] if isinstance(v, dict)):
            assert set(value) == {"id", "name", "display_name"}
    assert [p["id"] for p in pulses if p["more_indicators"]] == [MORE_PULSE]


def test_abuseipdb_fixture_content() -> None:
    body = load("abuseipdb", "blacklist.json")
    datetime.fromisoformat(body["meta"]["generatedAt"])
    rows = body["data"]
    assert len(rows) == 25
    ips = [ipaddress.ip_address(r["ipAddress"]) for r in rows]
    assert sum(ip.version == 6 for ip in ips) == 6
    assert all(ip.is_global for ip in ips)
    assert len(set(ips)) == 25
    assert sum(r["countryCode"] is None for r in rows) == 1
    assert all(datetime.fromisoformat(r["lastReportedAt"]).utcoffset() is not None for r in rows)
    plain = (DEFAULT_FIXTURES_DIR / "abuseipdb" / "blacklist.txt").read_text().splitlines()
    assert plain == [r["ipAddress"] for r in rows]
