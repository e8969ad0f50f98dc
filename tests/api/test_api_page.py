"""The ThreatStream page: a static shell served by the plugin's app (CSP, ETag, relative URLs
only, no inline script), and the plugin's navigation entry on the Airflow versions that have
the ``external_views`` interface (3.1+; on 3.0 the page is reachable at its own URL)."""

from __future__ import annotations

import fnmatch
import re
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.browser import chromium

from threatstream.api.app import URL_PREFIX, create_app
from threatstream.api.lookup import Lookups
from threatstream.api.page import CONTENT_SECURITY_POLICY, PAGE_PATH, add_page, page_files
from threatstream.canonical.vocabulary import IndicatorType

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "plugins" / "threatstream" / "api" / "ui"
#: The shell and the navigation entry are part of the plugin's contract on every supported
#: Airflow version (make test-compat); the browser checks run in the main environment.
compat = pytest.mark.compat
#: XML namespace names: identifiers that look like URLs but are never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg"}


class NoStore(Lookups):
    def hook(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the store was read")


class Markup(HTMLParser):
    """The tags, attributes and script bodies of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies.append(data)


def _markup() -> Markup:
    parser = Markup()
    parser.feed((UI / "index.html").read_text())
    return parser


def _urls(parser: Markup) -> list[str]:
    return [
        value
        for _, attrs in parser.tags
        for name, value in attrs.items()
        if name in ("href", "src") and value is not None
    ]


@pytest.fixture
def anonymous() -> TestClient:
    """The app without a user: the page's shell is public, its data is not."""
    return TestClient(create_app(NoStore()))


@compat
def test_the_page_is_served_with_its_policy_and_etag(anonymous: TestClient) -> None:
    response = anonymous.get(PAGE_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == (UI / "index.html").read_bytes()
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    unchanged = anonymous.get(PAGE_PATH, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    changed = anonymous.get(PAGE_PATH, headers={"If-None-Match": '"0000"'})
    assert changed.status_code == 200
    # The shell is public; the data behind it is not.
    assert anonymous.get("/api/v1/lookup", params={"value": "94.156.8.244"}).status_code == 401
    assert anonymous.get("/api/v1/health").status_code == 401


@compat
def test_the_path_without_slash_redirects_relatively(anonymous: TestClient) -> None:
    response = anonymous.get(PAGE_PATH.rstrip("/"), follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "ui/"  # resolves to .../threatstream/ui/ under any prefix
    assert anonymous.get(PAGE_PATH.rstrip("/")).url.path.endswith(PAGE_PATH)


@compat
@pytest.mark.parametrize("name", ["nope.js", "page.py", "..%2Fpage.py", "%2E%2E%2Fapp.py", "ui.tar"])
def test_an_unknown_file_is_404(anonymous: TestClient, name: str) -> None:
    response = anonymous.get(PAGE_PATH + name)
    assert response.status_code == 404
    assert b"import" not in response.content


@compat
def test_every_file_the_page_references_is_served(anonymous: TestClient) -> None:
    local = {url for url in _urls(_markup()) if "/" not in url and not url.startswith("#")}
    assert {"app.js", "style.css", "icon.svg", "icon-dark.svg"} <= local
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for name in local:
        response = anonymous.get(PAGE_PATH + name)
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(types[Path(name).suffix]), name
        assert response.content == (UI / name).read_bytes()
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # ... and the page holds no file it does not use.
    assert set(page_files()) == local | {"index.html"}


@compat
def test_no_inline_script_or_style(anonymous: TestClient) -> None:
    parser = _markup()
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts
    assert all(attrs.get("src") for attrs in scripts)
    assert not "".join(parser.script_bodies).strip()
    handlers = [(tag, name) for tag, attrs in parser.tags for name in attrs if name.startswith("on")]
    assert handlers == []
    assert [tag for tag, attrs in parser.tags if "style" in attrs] == []
    assert "<style" not in (UI / "index.html").read_text()
    script = (UI / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


@compat
def test_only_relative_urls() -> None:
    # scheme://host or //host (not a defanged hxxps://host, which is an example value)
    absolute = re.compile(r"(?i)(?:\b(?:https?|wss?):|(?<![:\w]))//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*")
    for path in sorted(UI.iterdir()):
        text = path.read_text()
        found = {match.group(0) for match in absolute.finditer(text)} - NAMESPACES
        assert found == set(), (path.name, found)
    for url in _urls(_markup()):
        assert not url.startswith("/"), url  # root-relative breaks under a proxy prefix
        assert not re.match(r"[a-z]+:", url), url
    script = (UI / "app.js").read_text()
    assert re.findall(r"""["'`]/(?:api|auth|dags|threatstream|ui|plugin)\b""", script) == []
    constants = dict(re.findall(r'const (API|AIRFLOW) = "([^"]*)"', script))
    # The page is <prefix>/threatstream/ui/: its API is one folder up, Airflow's UI two.
    assert constants == {"API": "../api/v1/", "AIRFLOW": "../../"}
    assert "url(" not in (UI / "style.css").read_text().replace("url(data:", "")


@compat
def test_the_type_menu_lists_every_indicator_type() -> None:
    script = (UI / "app.js").read_text()
    listed = re.search(r"const TYPES = \[(.*?)\];", script, re.S)
    assert listed is not None
    assert re.findall(r'"([^"]+)"', listed.group(1)) == [kind.value for kind in IndicatorType]


@compat
def test_a_deployment_without_the_files_keeps_its_api(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        page_files(tmp_path)
    app = FastAPI()
    add_page(app, tmp_path)
    with TestClient(app) as client:
        response = client.get(PAGE_PATH)
    assert response.status_code == 404
    assert "not deployed" in response.json()["detail"]


@compat
def test_the_package_ships_the_page() -> None:
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data["threatstream.api"]
    for path in UI.iterdir():
        relative = path.relative_to(UI.parent).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


@compat
def test_the_plugin_declares_the_page_where_airflow_can_show_it(anonymous: TestClient) -> None:
    from airflow.plugins_manager import AirflowPlugin

    from threatstream.api.plugin import ThreatStreamApiPlugin

    plugin = ThreatStreamApiPlugin()
    if not hasattr(AirflowPlugin, "external_views"):  # Airflow 3.0: the page at its own URL only
        assert "external_views" not in vars(ThreatStreamApiPlugin)
        return
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    views = plugin.external_views
    assert len(views) == 1
    view = views[0]
    assert isinstance(view, dict)  # Airflow drops an entry that is not a dict
    assert {"name", "href", "url_route", "destination"} <= set(view)
    parsed = ExternalViewResponse.model_validate(view)  # as /api/v2/plugins serves it to the UI
    assert parsed.destination == "nav"
    assert parsed.url_route == "threatstream"
    # Relative to the UI's base URL (its <base href>): the plugin's prefix, then the page.
    assert view["href"] == URL_PREFIX.lstrip("/") + PAGE_PATH
    for key in ("href", "icon", "icon_dark_mode"):
        assert not view[key].startswith("/"), key
        assert "//" not in view[key], key
    app = create_app(NoStore())
    with TestClient(app) as client:
        for key in ("icon", "icon_dark_mode"):
            path = "/" + view[key].removeprefix(URL_PREFIX.lstrip("/") + "/")
            response = client.get(path)
            assert response.status_code == 200, view[key]
            assert response.headers["content-type"] == "image/svg+xml"


# -- The page in a browser: the app (with a stub store) under a proxy prefix ---------------------

#: A hostile tag, rendered as text or not at all, never as markup.
HOSTILE = '<img src=x onerror="document.title=1">'
RECORD = {
    "id": "IPv4:0",
    "indicator_type": "IPv4",
    "indicator_value": "194.180.48.51",
    "score": 91.3,
    "score_as_of": "2026-12-01T12:00:00.000000Z",
    "current_score": 88.9,
    "source_count": 2,
    "source_names": ["feodo", "urlhaus"],
    "sources": [
        {
            "source": "feodo",
            "confidence": None,
            "first_reported": "2026-11-25T12:00:00.000000Z",
            "last_reported": "2026-12-01T12:00:00.000000Z",
            "tlp": "clear",
            "tags": ["QakBot", HOSTILE],
            "expires_at": "2027-12-08T12:00:00.000000Z",
            "reference": "javascript:document.title=1",
        },
        {
            "source": "urlhaus",
            "confidence": 75,
            "first_reported": "2026-11-28T12:00:00.000000Z",
            "last_reported": "2026-11-30T12:00:00.000000Z",
            "tlp": "amber",
            "tags": [],
            "expires_at": "2027-12-07T12:00:00.000000Z",
            "reference": "https://urlhaus.abuse.ch/host/194.180.48.51/",
        },
    ],
    "first_seen": "2026-11-25T12:00:00.000000Z",
    "last_seen": "2026-12-01T12:00:00.000000Z",
    "expires_at": "2027-12-08T12:00:00.000000Z",
    "tlp": "amber",
    "tags": ["QakBot", HOSTILE],
    "updated_at": "2026-12-01T12:00:41.000000Z",
}

#: A value on a MISP warninglist, as the merged view flags it.
LISTED_RECORD = {
    **RECORD,
    "id": "IPv4:1",
    "indicator_value": "8.8.8.8",
    "score": 7.2,
    "current_score": 7.0,
    "source_count": 1,
    "source_names": ["otx"],
    "sources": [{**RECORD["sources"][1], "source": "otx", "warninglists": ["public-dns-v4"]}],
    "tags": [],
    "warninglists": ["public-dns-v4"],
}


ZERO_COUNTS = {"expired": 0, "duplicates": 0, "failed": 0}


def _run(state: str, counts: dict[str, int] | None, reasons: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "run_id": f"scheduled__{uuid.uuid4().hex[:8]}",
        "run_type": "scheduled",
        "state": state,
        "logical_date": "2026-12-07T10:00:00+00:00",
        "run_after": "2026-12-07T10:00:00+00:00",
        "start_date": "2026-12-07T10:00:01+00:00",
        "end_date": "2026-12-07T10:00:41+00:00",
        "duration_seconds": 40.0,
        "counts": None if counts is None else {**ZERO_COUNTS, "written": counts["valid"], **counts},
        "reasons": reasons,
        "failed_tasks": ["fetch"] if state == "failed" else [],
    }


def _feed(source: str, freshness: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "source": source,
        "title": source.upper(),
        "dag_id": f"threatstream_{source}",
        "schedule": "0 * * * *",
        "dag_registered": True,
        "is_paused": freshness == "paused",
        "last_success": None if freshness == "never" else "2026-12-07T10:00:41+00:00",
        "age_seconds": 60.0,
        "deadline_seconds": 3600.0,
        "stale_after_seconds": 7200.0,
        "freshness": freshness,
        "runs": runs,
    }


#: Newest run first, as the API answers.
FEEDS = [
    _feed(
        "otx",
        "fresh",
        [
            _run("failed", None),
            _run("success", {"fetched": 100, "valid": 90, "quarantined": 10}, {"unknown_type": 10}),
            _run(
                "success",
                {"fetched": 300, "valid": 280, "quarantined": 20},
                {"unknown_type": 5, "too_long": 15},
            ),
        ],
    ),
    _feed("urlhaus", "stale", [_run("success", {"fetched": 50, "valid": 50, "quarantined": 0})]),
    _feed("feodo", "never", []),
    _feed("cisa_kev", "paused", [_run("skipped", None)]),
]


class StubLookups(Lookups):
    """The store's interface: canonicalises as the API does, finds :data:`RECORD` only and
    records what was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str | None]] = []

    def one(self, value: str, type: str | None = None, *, now: datetime | None = None) -> dict[str, Any]:
        from threatstream.canonical.errors import InvalidIndicator
        from threatstream.cli import canonical_candidates

        self.asked.append((value, type))
        try:
            candidates = canonical_candidates(value, type)
        except InvalidIndicator as err:
            return {"query": value, "status": "invalid", "reason": err.reason, "message": str(err)}
        tried = [{"type": kind.value, "value": canonical} for kind, canonical in candidates]
        for record in (RECORD, LISTED_RECORD):
            if any(item["value"] == record["indicator_value"] for item in tried):
                return {
                    "query": value,
                    "status": "found",
                    "tried": tried,
                    "record": record,
                    "request_charge": 1.0,
                }
        return {"query": value, "status": "not_found", "tried": tried, "request_charge": 1.0}

    def many(
        self, items: list[tuple[str, str | None]], *, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        return [self.one(value, type, now=now) for value, type in items]

    def ranked(
        self, order: str, limit: int, continuation: str | None = None, *, now: datetime | None = None
    ) -> dict[str, Any]:
        return {"order": order, "items": [RECORD], "continuation": None, "request_charge": 2.0}


@dataclass
class PageServer:
    """The app under ``/airflow`` (a user logged in) and ``/anonymous`` (none), on one port."""

    url: str
    store: StubLookups

    def page(self, prefix: str = "airflow") -> str:
        return f"{self.url}/{prefix}/threatstream/ui/"


@pytest.fixture
def page_server(auth: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[PageServer]:
    import uvicorn
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    import threatstream.api.app as api
    from threatstream_dev.stack import free_port

    monkeypatch.setattr(api, "feed_health", lambda runs: FEEDS)
    store = StubLookups()
    logged_in = create_app(store)
    logged_in.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(
        username="analyst", role="viewer"
    )
    root = FastAPI()
    root.mount("/airflow/threatstream", logged_in)
    root.mount("/anonymous/threatstream", create_app(NoStore()))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the page server did not start"
        time.sleep(0.05)
    try:
        yield PageServer(f"http://127.0.0.1:{port}", store)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright; skipped without it (a failure under ``CI=true``)."""
    with chromium() as launched:
        yield launched


def _open(browser: Any, url: str, **context: Any) -> tuple[Any, list[str]]:
    """A new tab on ``url``; the console errors it logs (a CSP violation is one)."""
    page = browser.new_context(viewport={"width": 1300, "height": 900}, **context).new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, errors


def test_a_list_is_looked_up_in_one_request_in_order(page_server: PageServer, browser: Any) -> None:
    from playwright.sync_api import expect

    page, errors = _open(browser, page_server.page())
    values = "194.180.48[.]51, 10.0.0.1\nhxxps://evil[.]example/a?b=1,2  not-a-value;5.188.10.197"
    page.fill("#lookup-values", values)
    with page.expect_request(lambda request: request.method == "POST") as posted:
        page.keyboard.press("Enter")  # in the box: Enter looks up
    assert posted.value.url == f"{page_server.url}/airflow/threatstream/api/v1/lookup"
    expected = [
        "194.180.48[.]51",
        "10.0.0.1",
        "hxxps://evil[.]example/a?b=1,2",  # a URL keeps its commas
        "not-a-value",
        "5.188.10.197",
    ]
    assert posted.value.post_data_json == expected
    cards = page.locator("#lookup-results .card")
    expect(cards).to_have_count(5)
    statuses = [cards.nth(i).get_attribute("data-status") for i in range(5)]
    assert statuses == ["found", "invalid", "not_found", "invalid", "not_found"]
    expect(page.locator("#lookup-status")).to_contain_text("5 values: 1 found, 2 not found, 2 invalid")
    expect(cards.nth(1).locator(".query")).to_contain_text("non_global_ip")
    expect(cards.nth(2).locator(".query")).to_contain_text("URL https://evil.example/a?b=1,2")

    found = cards.first
    expect(found.locator(".value")).to_have_text("194.180.48.51")
    expect(found.locator(".query")).to_contain_text("entered as 194.180.48[.]51")
    expect(found.locator(".score-value")).to_have_text("88.9")
    expect(found.locator(".score-note")).to_contain_text("91.3 as of 2026-12-01 12:00 UTC")
    rows = found.locator(".sources tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("feodo")
    expect(rows.nth(1)).to_contain_text("75")
    # Only a web address becomes a link, opened outside the page; markup in data stays text.
    assert rows.nth(0).locator("a").count() == 0
    link = rows.nth(1).locator("a")
    expect(link).to_have_attribute("href", "https://urlhaus.abuse.ch/host/194.180.48.51/")
    expect(link).to_have_attribute("target", "_blank")
    assert found.locator("img").count() == 0
    expect(found.locator(".facts")).to_contain_text(HOSTILE)
    assert page.title() == "ThreatStream"
    assert errors == []


def test_one_value_is_one_get_with_its_type(page_server: PageServer, browser: Any) -> None:
    from playwright.sync_api import expect

    page, errors = _open(browser, page_server.page())
    page.select_option("#lookup-type", "IPv4")
    page.fill("#lookup-values", "  194.180.48.51 ")
    with page.expect_response(lambda response: "/api/v1/lookup?" in response.url) as answered:
        page.click("#lookup-submit")
    assert answered.value.request.method == "GET"
    expect(page.locator("#lookup-results .card")).to_have_count(1)
    assert page_server.store.asked == [("194.180.48.51", "IPv4")]
    # A record in the indicator tables looks itself up with one click.
    page.fill("#lookup-values", "")
    page.select_option("#lookup-type", "")
    page.locator("#top-table a", has_text="194.180.48.51").click()
    expect(page.locator("#lookup-values")).to_have_value("194.180.48.51")
    expect(page.locator("#lookup-status")).to_contain_text("1 value: 1 found")
    assert errors == []


def test_a_warninglisted_value_says_which_lists(page_server: PageServer, browser: Any) -> None:
    from playwright.sync_api import expect

    page, errors = _open(browser, page_server.page())
    page.fill("#lookup-values", "8.8.8.8 194.180.48.51")
    page.click("#lookup-submit")
    cards = page.locator("#lookup-results .card")
    expect(cards).to_have_count(2)
    listed, plain = cards.nth(0), cards.nth(1)
    expect(listed).to_have_class(re.compile(r"\bwarninglisted\b"))
    expect(listed.locator(".facts")).to_contain_text("Warninglists")
    expect(listed.locator(".badge.warninglist")).to_have_text(["public-dns-v4"])
    expect(listed.locator(".score-value")).to_have_text("7.0")
    expect(plain.locator(".facts")).not_to_contain_text("Warninglists")
    assert errors == []


def test_feed_health_under_a_proxy_prefix(page_server: PageServer, browser: Any) -> None:
    from playwright.sync_api import expect

    page, errors = _open(browser, page_server.page())
    rows = page.locator("#health-body tr[data-source]")
    expect(rows).to_have_count(len(FEEDS))
    for index, feed in enumerate(FEEDS):
        row = rows.nth(index)
        assert row.get_attribute("data-source") == feed["source"]
        assert row.locator("[data-freshness]").get_attribute("data-freshness") == feed["freshness"]
        expect(row.locator("svg.chart a.run")).to_have_count(len(feed["runs"]))
    otx = rows.first
    # quarantined / fetched over the runs with counts: (10 + 20) / (100 + 300)
    expect(otx.locator(".ratio")).to_have_text("7.5 %")
    expect(otx.locator(".reasons li").first).to_contain_text("unknown_type \u00d715")
    assert otx.locator("svg.chart .bar-failed").count() == 1
    expect(otx.locator(".failed-tasks")).to_have_text("failed: fetch")
    # Links to Airflow's own pages keep the prefix Airflow is served under.
    dag = otx.locator("a[data-top]", has_text="threatstream_otx")
    assert dag.evaluate("a => a.href") == f"{page_server.url}/airflow/dags/threatstream_otx"
    run_id = FEEDS[0]["runs"][0]["run_id"]
    bar = otx.locator("svg.chart a.run").last  # newest on the right
    assert bar.get_attribute("href") == f"../../dags/threatstream_otx/runs/{run_id}"
    assert errors == []


def test_without_a_session_the_page_offers_the_login(page_server: PageServer, browser: Any) -> None:
    from playwright.sync_api import expect

    page, errors = _open(browser, page_server.page("anonymous"))
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#health-body")).to_contain_text("not logged in")
    href = page.locator("#login-link").get_attribute("href")
    assert href == (
        f"{page_server.url}/anonymous/api/v2/auth/login?next=" + quote(page_server.page("anonymous"), safe="")
    )
    assert [e for e in errors if "401" not in e] == []  # the browser logs each 401 answer


@pytest.mark.parametrize(
    ("scheme", "stored", "theme"),
    [("dark", None, "dark"), ("light", None, "light"), ("dark", "light", "light"), ("light", "dark", "dark")],
)
def test_the_page_follows_airflows_theme_else_the_systems(
    page_server: PageServer, browser: Any, scheme: str, stored: str | None, theme: str
) -> None:
    page, _ = _open(browser, page_server.page(), color_scheme=scheme)
    if stored:  # Airflow's own colour-mode choice (next-themes' localStorage key)
        page.evaluate(f"localStorage.setItem('theme', '{stored}')")
        page.reload()
    page.locator("#health-body tr[data-source]").first.wait_for()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(255, 255, 255)") == (theme == "light"), background
