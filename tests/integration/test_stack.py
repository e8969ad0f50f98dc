"""The real stack of ``make airflow``, driven only through the REST API v2 (as an operator would).

With Redis and PostgreSQL on 127.0.0.1 it runs the CeleryExecutor with two workers; with
PostgreSQL only, the LocalExecutor; without PostgreSQL it is skipped. The steps share one
stack and run in file order: every registered source is wired and every DAG parses cleanly;
the two Celery workers each run a fetch at the same time (two fetches held open until both
are in flight, which one worker of concurrency 1 cannot do); every DAG runs after unpause +
trigger, the merged view fills from the sources' upserts, and the ``threatstream lookup`` line
``make airflow`` prints finds a value four sources report; a clear of ``validate`` with
downstream reruns both tasks and leaves the container unchanged, a native backfill covers
three OTX hours (and snapshot feeds skip theirs), invalid params are refused with a message,
a slow feed makes the freshness deadline fire through the triggerer to the alerts webhook.
Then a real browser (Playwright driving Debian's Chromium) logs in through Airflow's login form,
sees every DAG in the UI, opens the ThreatStream page from the navigation, sees every feed in
its health table, looks a stored value up (plain and defanged) and a bad one; the API without
a token is 401. Screenshots go to ``test-artifacts/`` (and ``docs/images/`` with
``THREATSTREAM_UPDATE_SCREENSHOTS=1``); timings to ``test-artifacts/integration-timings.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.browser import chromium

from threatstream.api.plugin import NAV_LABEL
from threatstream.naming import MAINTENANCE_DAG_ID, MERGED_VIEW_DAG_ID, STIX_EXPORT_DAG_ID
from threatstream_dev.feed_replay import FeedReplayServer, Response
from threatstream_dev.stack import (
    ADMIN,
    EXAMPLE_LOOKUP_VALUE,
    PIPELINE_DAG_IDS,
    AirflowStack,
    StackConfig,
    drop_postgres_database,
    postgres_reachable,
    redis_reachable,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
#: Two sources whose fetch is one request to a static file: held open until both are in flight.
HELD_FETCHES = {
    "threatstream_feodo": "/downloads/ipblocklist",
    "threatstream_cisa_kev": "/sites/default/files/",
}
#: The URLhaus DAG's freshness deadline in this stack (6 s); the "slow" replay scenario answers in 8 s.
URLHAUS_DEADLINE_MINUTES = 0.1
TIMINGS: dict[str, Any] = {}
#: Where the screenshots of the ThreatStream page are kept when THREATSTREAM_UPDATE_SCREENSHOTS=1.
DOCS_IMAGES = REPO / "docs" / "images"
#: The sources that report EXAMPLE_LOOKUP_VALUE in the replayed feeds.
EXAMPLE_SOURCES = ["feodo", "taxii", "threatfox", "threatfox_csv"]


class _AlertSink(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append({"path": self.path, "body": json.loads(body or b"{}")})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def alert_sink() -> Iterator[type[_AlertSink]]:
    """A local stand-in for a Slack/Teams incoming webhook."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AlertSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _AlertSink.received = []
    _AlertSink.port = server.server_address[1]  # type: ignore[attr-defined]
    yield _AlertSink
    server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, alert_sink: type[_AlertSink]) -> Iterator[AirflowStack]:
    if not postgres_reachable():
        pytest.skip("the stack test needs PostgreSQL on 127.0.0.1:5432")
    celery = redis_reachable()
    database = f"threatstream_it_{uuid.uuid4().hex[:8]}"
    alerts = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": alert_sink.port,  # type: ignore[attr-defined]
        "schema": "http",
        "password": "/services/T000/B000/secret-path",
    }
    config = StackConfig(
        home=tmp_path_factory.mktemp("stack"),
        port=0,
        executor="celery" if celery else "local",
        workers=2,
        worker_concurrency=1,
        database=database,
        unpause=False,
        login=True,  # the browser logs in through Airflow's form; the API's 401 needs a real login
        extra_env={
            "AIRFLOW_CONN_THREATSTREAM_ALERTS": json.dumps(alerts),
            "AIRFLOW__THREATSTREAM__URLHAUS_DEADLINE_MINUTES": str(URLHAUS_DEADLINE_MINUTES),
            "AIRFLOW__THREATSTREAM__RETRY_DELAY_SECONDS": "2",
        },
    )
    started = time.monotonic()
    try:
        with AirflowStack(config) as running:
            TIMINGS["executor"] = running.env["AIRFLOW__CORE__EXECUTOR"]
            TIMINGS["stack_start_seconds"] = round(time.monotonic() - started, 1)
            TIMINGS["api_up_seconds"] = round(running.timings["api_up"], 1)
            TIMINGS["healthy_seconds"] = round(running.timings["healthy"], 1)
            if "workers_consuming" in running.timings:
                TIMINGS["workers_consuming_seconds"] = round(running.timings["workers_consuming"], 1)
            yield running
            stopping = time.monotonic()
        TIMINGS["stack_stop_seconds"] = round(time.monotonic() - stopping, 1)
    finally:
        drop_postgres_database(database)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "integration-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


def _runs(stack: AirflowStack, dag_id: str, **params: Any) -> list[dict[str, Any]]:
    response = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})
    return list(response.json()["dag_runs"])


def _wait_run(stack: AirflowStack, dag_id: str, run_id: str, timeout: float = 420) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()
        if run["state"] in ("success", "failed"):
            return dict(run)
        time.sleep(2)
    raise TimeoutError(f"{dag_id} {run_id} did not finish in {timeout:.0f}s")


def _task_instances(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    response = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    return {ti["task_id"]: ti for ti in response.json()["task_instances"]}


def _trigger(stack: AirflowStack, dag_id: str, conf: dict[str, Any] | None = None) -> requests.Response:
    body = {"logical_date": datetime.now(UTC).isoformat(), "conf": conf or {}}
    return stack.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body, check=False)


def _duration(run: dict[str, Any]) -> float:
    start = datetime.fromisoformat(run["start_date"])
    end = datetime.fromisoformat(run["end_date"])
    return round((end - start).total_seconds(), 1)


def _documents(stack: AirflowStack, source: str) -> list[dict[str, Any]]:
    from azure.cosmos import CosmosClient

    assert stack.cosmos is not None
    container = (
        CosmosClient(stack.cosmos.url, {"masterKey": stack.cosmos.key})
        .get_database_client("threatstream")
        .get_container_client("indicators")
    )
    documents = container.query_items(
        "SELECT * FROM c WHERE c.source = @source",
        parameters=[{"name": "@source", "value": source}],
        enable_cross_partition_query=True,
    )
    return sorted(
        ({k: v for k, v in d.items() if not k.startswith("_")} for d in documents), key=lambda d: d["id"]
    )


def test_every_registered_source_is_wired_and_parsed(stack: AirflowStack) -> None:
    from threatstream.sources import all_sources

    assert stack.api("GET", "/api/v2/importErrors").json()["total_entries"] == 0
    specs = all_sources()  # the built-in feeds and every list spec
    assert [source.dag_id for source in stack.sources] == [spec.dag_id for spec in specs]
    assert stack.unwired == []  # the replay server answers every source
    for spec in specs:
        assert f"AIRFLOW_CONN_{spec.conn_id.upper()}" in stack.env, spec.conn_id
    dags = stack.api("GET", "/api/v2/dags", params={"dag_id_pattern": "threatstream_", "limit": 100})
    assert set(stack.dag_ids) <= {dag["dag_id"] for dag in dags.json()["dags"]}
    assert set(PIPELINE_DAG_IDS) <= set(stack.dag_ids)


@contextlib.contextmanager
def _held_until_all_in_flight(
    feeds: FeedReplayServer, paths: Mapping[str, str]
) -> Iterator[threading.Barrier]:
    """Hold the first request to each path prefix until one request to every prefix has arrived."""
    barrier = threading.Barrier(len(paths), timeout=300)
    arrived: set[str] = set()
    lock = threading.Lock()
    handle = feeds.handle

    def held(method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        prefix = next((p for p in paths.values() if target.startswith(p)), None)
        with lock:
            first = prefix is not None and prefix not in arrived
            arrived.add(prefix or "")
        if first:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return handle(method, target, headers, body)

    feeds.handle = held  # type: ignore[method-assign]
    try:
        yield barrier
    finally:
        del feeds.handle  # the class's method again


def test_both_workers_run_tasks_at_the_same_time(stack: AirflowStack) -> None:
    """Each Celery worker runs one task at a time (concurrency 1): two fetches held open until
    both are in flight can only be in flight together on two workers, whatever the timing."""
    if TIMINGS["executor"] != "CeleryExecutor":
        pytest.skip("the LocalExecutor has no workers")
    assert stack.config.worker_concurrency == 1
    assert {name.split("@")[0] for name in stack.celery_workers()} == {"worker1", "worker2"}
    assert stack.feeds is not None
    with _held_until_all_in_flight(stack.feeds, HELD_FETCHES) as barrier:
        for dag_id in HELD_FETCHES:
            stack.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
            response = _trigger(stack, dag_id)
            assert response.status_code == 200, response.text
        for dag_id in HELD_FETCHES:
            for run in _runs(stack, dag_id):
                assert _wait_run(stack, dag_id, run["dag_run_id"])["state"] == "success"
    assert not barrier.broken, "the held fetches were never in flight together: one worker ran both"
    hosts = {}
    for dag_id in HELD_FETCHES:  # each DAG's first fetch is the one that was held
        fetches = [_task_instances(stack, dag_id, run["dag_run_id"])["fetch"] for run in _runs(stack, dag_id)]
        started = [ti for ti in fetches if ti["start_date"]]
        hosts[dag_id] = min(started, key=lambda ti: ti["start_date"])["hostname"]
    TIMINGS["held_fetch_hosts"] = hosts
    assert sorted(host.rsplit("-", 1)[-1] for host in hosts.values()) == ["worker1", "worker2"], hosts


def test_unpause_and_trigger_each_dag_then_look_up_the_merged_view(stack: AirflowStack) -> None:
    started = time.monotonic()
    for dag_id in stack.wired_dag_ids:
        stack.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    sources = [source.dag_id for source in stack.sources]
    triggered = {}
    for dag_id in [*sources, STIX_EXPORT_DAG_ID, MAINTENANCE_DAG_ID]:
        response = _trigger(stack, dag_id)
        assert response.status_code == 200, response.text
        triggered[dag_id] = response.json()["dag_run_id"]
    hosts: dict[str, set[str]] = {}
    for dag_id, run_id in triggered.items():
        run = _wait_run(stack, dag_id, run_id)
        tis = _task_instances(stack, dag_id, run_id)
        assert run["state"] == "success", (dag_id, {t: ti["state"] for t, ti in tis.items()})
        assert {ti["state"] for ti in tis.values()} == {"success"}
        TIMINGS.setdefault("runs", {})[dag_id] = _duration(run)
        hosts[dag_id] = {ti["hostname"] for ti in tis.values()}
    TIMINGS["all_triggered_runs_seconds"] = round(time.monotonic() - started, 1)
    if TIMINGS["executor"] == "CeleryExecutor":
        TIMINGS["worker_hosts"] = {dag_id: sorted(names) for dag_id, names in hosts.items()}
    # Every upsert emitted its source's Asset: the merged view ran on those events.
    merges = _wait_for_runs(stack, MERGED_VIEW_DAG_ID)
    assert {run["run_type"] for run in merges} == {"asset_triggered"}
    for dag_id in stack.wired_dag_ids:  # the runs the scheduler created at unpause finish too
        for run in _runs(stack, dag_id):
            assert _wait_run(stack, dag_id, run["dag_run_id"])["state"] == "success", (dag_id, run)
    TIMINGS["merged_view_filled_seconds"] = round(time.monotonic() - started, 1)

    # The lookup line `make airflow` prints, run in a shell as a newcomer would.
    line = stack.cli_command()
    assert line.startswith("AIRFLOW_CONN_THREATSTREAM_COSMOS='{")
    assert line.endswith(f"threatstream lookup {EXAMPLE_LOOKUP_VALUE}")
    user_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    user_env["AIRFLOW_HOME"] = str(stack.config.home / "cli")
    found = subprocess.run(
        ["bash", "-c", line], cwd=REPO, env=user_env, capture_output=True, text=True, timeout=120, check=False
    )
    assert found.returncode == 0, (found.stdout, found.stderr)
    assert f"IPv4 {EXAMPLE_LOOKUP_VALUE}" in found.stdout
    assert "sources    4: feodo, taxii, threatfox, threatfox_csv" in found.stdout, found.stdout


def _wait_for_runs(stack: AirflowStack, dag_id: str, timeout: float = 420) -> list[dict[str, Any]]:
    """The DAG's runs, once it has some and every one of them succeeded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _runs(stack, dag_id)
        assert not [run for run in runs if run["state"] == "failed"], runs
        if runs and all(run["state"] == "success" for run in runs):
            return runs
        time.sleep(3)
    raise TimeoutError(f"{dag_id} had no successful runs after {timeout:.0f}s")


def test_run_summary_is_on_the_asset_event(stack: AirflowStack) -> None:
    events = stack.api(
        "GET", "/api/v2/assets/events", params={"source_dag_id": "threatstream_abuseipdb", "limit": 5}
    ).json()["asset_events"]
    assert events
    extra = events[0]["extra"]
    assert extra["source"] == "abuseipdb"
    assert extra["summary"]["written"] == extra["written"] == 25
    assert set(extra["summary"]) >= {"fetched", "valid", "quarantined", "expired", "duplicates", "failed"}
    # ... and the same counts as one structured line in the upsert task's log
    run_id = extra["run_id"]
    upsert = _task_instances(stack, "threatstream_abuseipdb", run_id)["upsert"]
    log = stack.api(
        "GET",
        f"/api/v2/dags/threatstream_abuseipdb/dagRuns/{run_id}/taskInstances/upsert/logs/{upsert['try_number']}",
        params={"full_content": True},
        headers={"Accept": "application/json"},
    ).text
    assert "ThreatStream run summary" in log
    assert "GitWildMatchPattern" not in log  # .airflowignore handled without the deprecation warning


def test_clear_validate_with_downstream_reruns_and_keeps_the_container(stack: AirflowStack) -> None:
    dag_id = "threatstream_abuseipdb"
    latest = max(_runs(stack, dag_id), key=lambda run: run["end_date"])
    run_id = latest["dag_run_id"]
    before_tis = _task_instances(stack, dag_id, run_id)
    before = _documents(stack, "abuseipdb")
    assert len(before) == 25
    stack.api(
        "POST",
        f"/api/v2/dags/{dag_id}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": ["validate"],
            "include_downstream": True,
            "only_failed": False,
            "reset_dag_runs": True,
        },
    )
    time.sleep(2)
    run = _wait_run(stack, dag_id, run_id)
    assert run["state"] == "success"
    after_tis = _task_instances(stack, dag_id, run_id)
    assert after_tis["fetch"]["try_number"] == before_tis["fetch"]["try_number"]
    for task_id in ("validate", "upsert"):
        assert after_tis[task_id]["try_number"] == before_tis[task_id]["try_number"] + 1, task_id
        assert after_tis[task_id]["state"] == "success"
    assert _documents(stack, "abuseipdb") == before


def test_native_backfill_of_three_otx_hours(stack: AirflowStack) -> None:
    start = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    started = time.monotonic()
    backfill = stack.api(
        "POST",
        "/api/v2/backfills",
        json={
            "dag_id": "threatstream_otx",
            "from_date": start.isoformat(),
            "to_date": (start + timedelta(hours=2)).isoformat(),
            "max_active_runs": 2,
            "reprocess_behavior": "none",
        },
    ).json()
    runs = _backfill_runs(stack, "threatstream_otx", backfill["id"], expected=3)
    windows = sorted((run["data_interval_start"], run["data_interval_end"]) for run in runs)
    assert windows == [(f"2026-11-30T0{h}:00:00Z", f"2026-11-30T0{h + 1}:00:00Z") for h in (6, 7, 8)], windows
    for run in runs:
        assert _wait_run(stack, "threatstream_otx", run["dag_run_id"])["state"] == "success"
    TIMINGS["otx_backfill_3h_seconds"] = round(time.monotonic() - started, 1)
    assert stack.feeds is not None
    asked = {
        request.query["modified_since"][-1]
        for request in stack.feeds.requests("otx")
        if "modified_since" in request.query and request.query.get("page", ["1"])[-1] == "1"
    }
    assert {"2026-11-30T05:30:00", "2026-11-30T06:30:00", "2026-11-30T07:30:00"} <= asked


def _backfill_runs(stack: AirflowStack, dag_id: str, backfill_id: int, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = [
            run
            for run in _runs(stack, dag_id, run_type="backfill")
            if run.get("backfill_id") in (None, backfill_id)
        ]
        if len(runs) >= expected:
            return runs
        time.sleep(2)
    raise TimeoutError(f"backfill {backfill_id} of {dag_id} did not create {expected} runs")


def test_snapshot_feed_backfill_runs_skip(stack: AirflowStack) -> None:
    start = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    backfill = stack.api(
        "POST",
        "/api/v2/backfills",
        json={
            "dag_id": "threatstream_urlhaus",
            "from_date": start.isoformat(),
            "to_date": (start + timedelta(minutes=15)).isoformat(),
            "max_active_runs": 2,
            "reprocess_behavior": "none",
        },
    ).json()
    runs = _backfill_runs(stack, "threatstream_urlhaus", backfill["id"], expected=2)
    for run in runs:
        finished = _wait_run(stack, "threatstream_urlhaus", run["dag_run_id"])
        tis = _task_instances(stack, "threatstream_urlhaus", run["dag_run_id"])
        assert finished["state"] == "success"
        assert tis["fetch"]["state"] == "skipped"
        assert tis["upsert"]["state"] == "skipped"


@pytest.mark.parametrize(
    ("dag_id", "conf", "wanted"),
    [
        ("threatstream_otx", {"limit": 500}, "limit"),
        ("threatstream_abuseipdb", {"confidence_minimum": 5}, "confidence_minimum"),
        ("threatstream_urlhaus", {"dry_run": "maybe"}, "dry_run"),
    ],
)
def test_invalid_params_are_refused_with_a_reason(
    stack: AirflowStack, dag_id: str, conf: dict[str, Any], wanted: str
) -> None:
    response = _trigger(stack, dag_id, conf)
    assert response.status_code == 400, response.text
    detail = response.text
    TIMINGS.setdefault("param_refusals", {})[f"{dag_id} {conf}"] = response.json().get("detail")
    assert wanted in detail, detail
    assert (
        "Invalid input for param" in detail or "is not" in detail or "greater" in detail or "less" in detail
    )


def test_dry_run_fetches_and_validates_but_writes_nothing(stack: AirflowStack) -> None:
    before = _documents(stack, "otx")
    response = _trigger(stack, "threatstream_otx", {"dry_run": True})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    assert _wait_run(stack, "threatstream_otx", run_id)["state"] == "success"
    tis = _task_instances(stack, "threatstream_otx", run_id)
    assert (tis["fetch"]["state"], tis["validate"]["state"], tis["upsert"]["state"]) == (
        "success",
        "success",
        "skipped",
    )
    assert len(_documents(stack, "otx")) == len(before)


def test_a_slow_run_fires_the_freshness_deadline(stack: AirflowStack, alert_sink: type[_AlertSink]) -> None:
    assert stack.feeds is not None
    stack.feeds.use_scenario("urlhaus", "slow")
    try:
        response = _trigger(stack, "threatstream_urlhaus")
        assert response.status_code == 200, response.text
        run_id = response.json()["dag_run_id"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            texts = [alert["body"].get("text", "") for alert in alert_sink.received]
            if any("freshness deadline" in text and run_id in text for text in texts):
                break
            time.sleep(1)
        else:
            pytest.fail(f"no deadline alert for {run_id}; received {alert_sink.received}")
        run = _wait_run(stack, "threatstream_urlhaus", run_id)
        TIMINGS["slow_urlhaus_run_seconds"] = _duration(run)
        assert run["state"] == "success"  # late, not broken
    finally:
        stack.feeds.use_scenario("urlhaus", "default")
    alert = next(
        a for a in alert_sink.received if run_id in a["body"]["text"] and "deadline" in a["body"]["text"]
    )
    assert alert["path"] == "/services/T000/B000/secret-path"
    assert set(alert["body"]) == {"text"}  # what Slack and Teams incoming webhooks accept


def test_a_failed_run_notifies_through_the_same_notifier(
    stack: AirflowStack, alert_sink: type[_AlertSink]
) -> None:
    assert stack.feeds is not None
    stack.feeds.inject_fault(
        "abuseipdb", status=401, body='{"errors": [{"detail": "Authentication failed."}]}'
    )
    response = _trigger(stack, "threatstream_abuseipdb")
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    run = _wait_run(stack, "threatstream_abuseipdb", run_id)
    assert run["state"] == "failed"
    assert _task_instances(stack, "threatstream_abuseipdb", run_id)["fetch"]["try_number"] == 1  # no retry
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        texts = [alert["body"]["text"] for alert in alert_sink.received]
        if any("run failed" in text and run_id in text for text in texts):
            return
        time.sleep(1)
    pytest.fail(f"no failure alert for {run_id}")


def _screenshot(target: Any, name: str, *, docs: bool = False) -> Path:
    """A screenshot of ``target`` (a page or a locator) in ``test-artifacts/``; one the docs
    show goes to ``docs/images/`` too when ``THREATSTREAM_UPDATE_SCREENSHOTS=1``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    target.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size > 10_000, name
    if docs and os.environ.get("THREATSTREAM_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / name)
    return path


@pytest.fixture(scope="module")
def browser(stack: AirflowStack) -> Iterator[Any]:
    """Headless Chromium (Debian's, through Playwright)."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def airflow_ui(stack: AirflowStack, browser: Any) -> Iterator[Any]:
    """A browser tab logged in to the Airflow UI through its login form (light theme)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="light")
    page = context.new_page()
    page.set_default_timeout(60_000)
    started = time.monotonic()
    page.goto(f"{stack.url}/")
    page.wait_for_url("**/auth/login**")  # the UI sends a visitor without a session to the form
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/" not in url)
    TIMINGS["ui_login_seconds"] = round(time.monotonic() - started, 1)
    try:
        yield page
    finally:
        context.close()


def test_the_ui_shows_every_dag(stack: AirflowStack, airflow_ui: Any) -> None:
    from playwright.sync_api import expect

    page = airflow_ui
    page.goto(f"{stack.url}/dags")
    for dag_id in stack.dag_ids:
        expect(page.locator("body")).to_contain_text(dag_id)
    _screenshot(page, "dag-list.png")

    # The run summary, on the source Asset's events (no XCom needed; see asset-events.png).
    asset = stack.api("GET", "/api/v2/assets", params={"name_pattern": "threatstream_abuseipdb"}).json()
    page.goto(f"{stack.url}/assets/{asset['assets'][0]['id']}")
    expect(page.locator("body")).to_contain_text("threatstream_abuseipdb_indicators")
    expect(page.locator("body")).to_contain_text("Asset Events")  # each event's extra expands with one click
    _screenshot(page, "asset-events.png")


#: The frame the UI shows a plugin's page in: titled with the navigation entry's label.
PAGE_FRAME = f"iframe[title='{NAV_LABEL}']"


def _threatstream_page(stack: AirflowStack, page: Any) -> Any:
    """Open the ThreatStream page from the UI's navigation; its frame."""
    page.goto(f"{stack.url}/")
    page.get_by_role("link", name=NAV_LABEL, exact=True).click()  # the navigation entry
    page.wait_for_url("**/plugin/threatstream**")
    frame = page.frame_locator(PAGE_FRAME)
    frame.locator("#health-body tr[data-source]").first.wait_for()
    return frame


def test_the_threatstream_page_shows_every_feed(stack: AirflowStack, airflow_ui: Any) -> None:
    from playwright.sync_api import expect

    page = airflow_ui
    started = time.monotonic()
    frame = _threatstream_page(stack, page)
    TIMINGS["ui_page_seconds"] = round(time.monotonic() - started, 1)
    rows = frame.locator("#health-body tr[data-source]")
    expect(rows).to_have_count(len(stack.sources))
    feeds = stack.api("GET", "/threatstream/api/v1/health", params={"runs": 10}).json()["feeds"]
    shown_at = frame.locator("#health-updated").inner_text()
    time.sleep(1.1)
    frame.locator("#health-refresh").click()  # the same runs as the API's answer just above
    expect(frame.locator("#health-updated")).not_to_have_text(shown_at)
    unwired = {source.name for source in stack.unwired}
    for index, (source, feed) in enumerate(zip(stack.sources, feeds, strict=True)):
        assert feed["source"] == source.name
        row = rows.nth(index)
        assert row.get_attribute("data-source") == source.name  # registry order
        expect(row).to_contain_text(source.dag_id)
        freshness = row.locator("[data-freshness]").get_attribute("data-freshness")
        if source.name in unwired:
            assert freshness in ("paused", "never"), (source.name, freshness)
            continue
        assert freshness == feed["freshness"] == "fresh", source.name  # every wired feed ran just now
        expect(row.locator("svg.chart a.run")).to_have_count(len(feed["runs"]))
        counted = [run["counts"] for run in feed["runs"] if run["counts"] and run["counts"]["fetched"]]
        if counted:  # the reject ratio: quarantined / fetched over the runs shown
            ratio = 100 * sum(c["quarantined"] for c in counted) / sum(c["fetched"] for c in counted)
            shown = row.locator(".ratio").inner_text()
            assert abs(float(shown.removesuffix(" %")) - ratio) <= 0.6, (source.name, shown, ratio)
            expect(row.locator("td").nth(3)).to_contain_text("written")
    _screenshot(page, "ui-page.png", docs=True)  # the page in Airflow's navigation
    _screenshot(frame.locator("#health"), "ui-health.png", docs=True)

    # A feed's DAG link opens the DAG in Airflow's UI (the whole window, not the frame).
    frame.locator("#health-body tr[data-source='otx'] a[data-top]").first.click()
    page.wait_for_url("**/dags/threatstream_otx")
    expect(page.locator("body")).to_contain_text("threatstream_otx")


def _look_up(frame: Any, text: str, cards: int = 1) -> Any:
    from playwright.sync_api import expect

    frame.locator("#lookup-values").fill(text)
    frame.locator("#lookup-submit").click()
    expect(frame.locator("#lookup-status")).to_have_text(re.compile(r"^\d+ values?: "))
    results = frame.locator("#lookup-results .card")
    expect(results).to_have_count(cards)
    return results


def test_the_page_looks_up_a_stored_value_plain_and_defanged(stack: AirflowStack, airflow_ui: Any) -> None:
    from playwright.sync_api import expect

    lookup = stack.api("GET", "/threatstream/api/v1/lookup", params={"value": EXAMPLE_LOOKUP_VALUE})
    stored = lookup.json()["record"]
    page = airflow_ui
    frame = _threatstream_page(stack, page)
    defanged = EXAMPLE_LOOKUP_VALUE.replace(".", "[.]", 1)
    for typed in (EXAMPLE_LOOKUP_VALUE, defanged):
        card = _look_up(frame, typed).first
        assert card.get_attribute("data-status") == "found", typed
        expect(card.locator(".verdict")).to_have_text("Found")
        expect(card.locator(".value")).to_have_text(EXAMPLE_LOOKUP_VALUE)
        sources = card.locator(".sources tbody tr[data-source]")
        expect(sources).to_have_count(len(EXAMPLE_SOURCES))
        names = [sources.nth(i).get_attribute("data-source") for i in range(sources.count())]
        assert names == EXAMPLE_SOURCES
        score = float(card.locator(".score-value").inner_text())
        assert abs(score - stored["current_score"]) <= 1.0, (score, stored["current_score"])
        expect(card.locator(".score-note")).to_contain_text(f"{stored['score']:.1f} as of")
        expect(card.locator(".facts")).to_contain_text("First seen")
        if typed == EXAMPLE_LOOKUP_VALUE:
            _screenshot(frame.locator("#lookup"), "ui-lookup.png", docs=True)
        else:
            expect(card.locator(".query")).to_contain_text(f"entered as {defanged}")

    # The same page follows Airflow's dark theme.
    page.evaluate("localStorage.setItem('theme', 'dark')")
    try:
        page.reload()
        frame = page.frame_locator(PAGE_FRAME)
        expect(frame.locator("html")).to_have_attribute("data-theme", "dark")
        _look_up(frame, EXAMPLE_LOOKUP_VALUE)
        _screenshot(frame.locator("#lookup"), "ui-lookup-dark.png", docs=True)
    finally:
        page.evaluate("localStorage.setItem('theme', 'light')")


def test_the_page_links_a_source_report_to_the_sources_own_page(stack: AirflowStack, airflow_ui: Any) -> None:
    from playwright.sync_api import expect

    recent = stack.api("GET", "/threatstream/api/v1/indicators", params={"order": "recent", "limit": 100})
    referenced = [
        (record, entry)
        for record in recent.json()["items"]
        for entry in record["sources"]
        if str(entry.get("reference") or "").startswith("https://")
    ]
    assert referenced, "no record in the merged view has a source reference"
    record, entry = referenced[0]
    frame = _threatstream_page(stack, airflow_ui)
    frame.locator("#lookup-type").select_option(record["indicator_type"])
    card = _look_up(frame, record["indicator_value"]).first
    assert card.get_attribute("data-status") == "found"
    link = card.locator(f".sources tr[data-source='{entry['source']}'] a[data-outside]")
    expect(link).to_have_attribute("href", entry["reference"])
    expect(link).to_have_attribute("target", "_blank")
    assert "noopener" in (link.get_attribute("rel") or "")


def test_the_page_shows_why_a_value_is_invalid(stack: AirflowStack, airflow_ui: Any) -> None:
    from playwright.sync_api import expect

    frame = _threatstream_page(stack, airflow_ui)
    card = _look_up(frame, "10.0.0.1").first  # one value: GET, answered 400
    assert card.get_attribute("data-status") == "invalid"
    expect(card.locator(".verdict")).to_have_text("Invalid")
    expect(card.locator(".query")).to_contain_text("non_global_ip")
    expect(card.locator(".message")).to_contain_text("10.0.0.1")
    # A list (POST, one result per value, in order): a bad value does not fail the others.
    cards = _look_up(frame, f"{EXAMPLE_LOOKUP_VALUE}, 10.0.0.1\nnot-a-value", cards=3)
    statuses = [cards.nth(i).get_attribute("data-status") for i in range(3)]
    assert statuses == ["found", "invalid", "invalid"], statuses
    expect(cards.nth(2).locator(".query")).to_contain_text("unknown_type")
    expect(frame.locator("#lookup-status")).to_contain_text("3 values: 1 found, 2 invalid")


def test_without_a_login_the_api_is_401_and_the_page_says_so(stack: AirflowStack, browser: Any) -> None:
    base = f"{stack.url}/threatstream/api/v1"
    for method, path, body in (
        ("GET", f"/lookup?value={EXAMPLE_LOOKUP_VALUE}", None),
        ("POST", "/lookup", [EXAMPLE_LOOKUP_VALUE]),
        ("GET", "/indicators", None),
        ("GET", "/health", None),
    ):
        response = requests.request(method, base + path, json=body, timeout=30)
        assert response.status_code == 401, (path, response.text)
        assert EXAMPLE_LOOKUP_VALUE not in response.text
    # The page's shell is public and holds no data; its script shows the way to the login.
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{stack.url}/threatstream/ui/")
        notice = page.locator("#login")
        notice.wait_for(state="visible", timeout=30_000)
        href = page.locator("#login-link").get_attribute("href") or ""
        assert href.startswith(f"{stack.url}/api/v2/auth/login?next="), href
        page.locator("#login-link").click()
        page.wait_for_url("**/auth/login**")
        assert page.locator("input[name=password]").count() == 1
    finally:
        context.close()
