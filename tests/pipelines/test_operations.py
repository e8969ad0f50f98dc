"""What operators get from every source DAG: deadlines, the notifier, params, limits, assets, alerts."""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.definitions.param import ParamsDict

from threatstream.monitoring.alerts import logged_alerts
from threatstream.monitoring.notify import ThreatStreamNotifier
from threatstream.pipelines.defaults import schedule_period
from threatstream.pipelines.sources import build_source_dag, source_deadline
from threatstream.sources import all_sources, get_source, source_names
from threatstream_dev.feed_replay import FeedReplayServer
from threatstream_dev.runs import RunDag, StoredDocuments, load_dagbag

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
LOGICAL_DATE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dagbag() -> Any:
    return load_dagbag(DAGS_FOLDER)


@pytest.mark.parametrize(
    ("dag_id", "period"),
    [
        ("threatstream_urlhaus", timedelta(minutes=15)),
        ("threatstream_otx", timedelta(hours=1)),
        ("threatstream_abuseipdb", timedelta(hours=6)),
    ],
)
def test_freshness_deadline_defaults_to_the_schedule_period(
    dagbag: Any, dag_id: str, period: timedelta
) -> None:
    (alert,) = dagbag.dags[dag_id].deadline
    assert alert.interval == period
    assert alert.reference.reference_name == "DagRunQueuedAtDeadline"
    assert alert.callback.path == "threatstream.monitoring.notify.ThreatStreamNotifier"
    assert alert.callback.kwargs["event"] == "deadline_missed"


def test_deadline_configurable_per_source_and_globally(monkeypatch: pytest.MonkeyPatch) -> None:
    otx, urlhaus = get_source("otx"), get_source("urlhaus")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__DEADLINE_MINUTES", "90")
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__OTX_DEADLINE_MINUTES", "0.5")
    assert source_deadline(otx, otx.schedule) == timedelta(seconds=30)
    assert source_deadline(urlhaus, urlhaus.schedule) == timedelta(minutes=90)
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__OTX_DEADLINE_MINUTES", "0")
    assert build_source_dag("otx").deadline is None
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__OTX_DEADLINE_MINUTES", "-1")
    with pytest.raises(ValueError, match="otx_deadline_minutes"):
        source_deadline(otx, otx.schedule)


def test_schedule_period() -> None:
    assert schedule_period("*/15 * * * *") == timedelta(minutes=15)
    assert schedule_period("0 */6 * * *") == timedelta(hours=6)


def test_failures_notify_through_the_package_notifier(dagbag: Any) -> None:
    for name in source_names():
        callback = dagbag.dags[f"threatstream_{name}"].on_failure_callback
        assert isinstance(callback, ThreatStreamNotifier)
        assert (callback.event, callback.source) == ("run_failed", name)


def test_dag_test_runs_without_deadlines_and_restores_them(dagbag: Any) -> None:
    dag = dagbag.dags["threatstream_urlhaus"]
    seen: list[object] = []
    original = type(dag).__mro__[1].test

    def fake_test(self: object, *args: object, **kwargs: object) -> None:
        seen.append(dag.deadline)

    type(dag).__mro__[1].test = fake_test  # type: ignore[method-assign]
    try:
        dag.test()
    finally:
        type(dag).__mro__[1].test = original  # type: ignore[method-assign]
    assert seen == [None]
    assert dag.deadline


@pytest.mark.parametrize(
    ("dag_id", "conf", "wanted"),
    [
        ("threatstream_otx", {"limit": 500}, "limit"),
        ("threatstream_otx", {"overlap_minutes": -5}, "overlap_minutes"),
        ("threatstream_abuseipdb", {"confidence_minimum": 5}, "confidence_minimum"),
        ("threatstream_urlhaus", {"limit": 5000}, "limit"),
        ("threatstream_urlhaus", {"dry_run": "maybe"}, "dry_run"),
        ("threatstream_urlhaus", {"max_reject_ratio": 2}, "max_reject_ratio"),
    ],
)
def test_params_outside_their_schema_are_refused(
    dagbag: Any, dag_id: str, conf: dict[str, object], wanted: str
) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params: ParamsDict = copy.deepcopy(dagbag.dags[dag_id].params)
    with pytest.raises(ParamValidationError, match=wanted):
        params.update(conf)  # the trigger form and the REST API validate the same way


def test_param_defaults_validate_and_otx_has_since(dagbag: Any) -> None:
    for name in source_names():
        params = dagbag.dags[f"threatstream_{name}"].params
        params.validate()
        assert params["dry_run"] is False
    otx = dagbag.dags["threatstream_otx"].params
    assert otx["since"] is None
    assert otx.get_param("since").schema["format"] == "date-time"


def test_backfill_and_quota_protection(dagbag: Any) -> None:
    for name in source_names():
        dag = dagbag.dags[f"threatstream_{name}"]
        assert dag.max_active_runs == 1
        assert dag.task_dict["fetch"].max_active_tis_per_dag == 1  # one request stream per feed
        assert dag.task_dict["upsert"].max_active_tis_per_dag == 1
        assert "backfill runs skip" in (dag.doc_md or "") or get_source(name).interval_based
        assert "fetches today's data" not in (dag.doc_md or "")


def test_pools_are_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatstream.pipelines.pools import pool_definitions

    dag = build_source_dag("otx")
    assert dag.task_dict["fetch"].pool == dag.task_dict["upsert"].pool == "default_pool"
    monkeypatch.setenv("AIRFLOW__THREATSTREAM__USE_POOLS", "True")
    dag = build_source_dag("otx")
    assert dag.task_dict["fetch"].pool == "threatstream_otx"
    assert dag.task_dict["upsert"].pool == "threatstream_cosmos"
    # Every feed, list specs included, has its pool: a task whose pool is missing never runs.
    feeds = {f"threatstream_{spec.name}" for spec in all_sources()}
    assert "threatstream_threatfox_csv" in feeds
    assert set(pool_definitions()) == feeds | {"threatstream_cosmos"}


def test_upsert_declares_the_source_asset(dagbag: Any) -> None:
    from threatstream.naming import source_asset

    for name in source_names():
        assert dagbag.dags[f"threatstream_{name}"].task_dict["upsert"].outlets == [source_asset(name)]


def test_parsing_the_dags_imports_no_azure_sdk() -> None:
    """The Cosmos hook and the Azure SDKs are imported by tasks, not by DAG parsing."""
    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_FOLDER)!r})\n"
        "assert len(bag.dags) >= 3 and not bag.import_errors, bag.import_errors\n"
        "heavy = ('azure.cosmos', 'azure.mgmt', 'azure.identity', 'threatstream.store.indicators')\n"
        "print([m for m in sys.modules if m.startswith(heavy)])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.dagrun
def test_upsert_emits_the_asset_event_with_counts(run_dag: RunDag) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    outcome = run_dag("threatstream_abuseipdb", LOGICAL_DATE)
    assert outcome.succeeded
    with create_session() as session:
        event = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(
                AssetModel.uri == "threatstream://indicators/abuseipdb",
                AssetEvent.source_run_id == outcome.run_id,
            )
        ).one()
        extra = dict(event.extra)
    assert extra["source"] == "abuseipdb"
    assert extra["run_id"] == outcome.run_id
    assert extra["valid_uri"] == outcome.results["validate"]["valid_uri"]
    assert extra["written"] == 25
    assert extra["failed"] == 0
    assert extra["data_interval_end"] == LOGICAL_DATE.isoformat()
    assert extra["summary"]["fetched"] == 25


@pytest.mark.dagrun
def test_dry_run_writes_nothing(
    airflow_db: Path,
    cosmos_database: str,
    feed_connections: FeedReplayServer,
    stored_documents: StoredDocuments,
) -> None:
    from threatstream_dev.runs import run_outcome

    dag = load_dagbag(DAGS_FOLDER).dags["threatstream_urlhaus"]
    dag_run = dag.test(logical_date=LOGICAL_DATE, run_conf={"dry_run": True})
    outcome = run_outcome(dag.dag_id, dag_run.run_id)
    assert outcome is not None
    assert outcome.succeeded
    assert outcome.results["validate"]["valid"] == 29
    assert "upsert" not in outcome.results
    assert stored_documents() == []


@pytest.mark.dagrun
def test_quota_nearly_exhausted_alerts(
    run_dag: RunDag, feed_connections: FeedReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="threatstream.alerts")
    assert run_dag("threatstream_abuseipdb", LOGICAL_DATE).succeeded
    assert not [a for a in logged_alerts(caplog.records) if a["event"] == "quota_low"]  # 4 of 5 left
    feed_connections.use_scenario("abuseipdb", "quota_low")
    outcome = run_dag("threatstream_abuseipdb", LOGICAL_DATE)
    assert outcome.succeeded
    (alert,) = [a for a in logged_alerts(caplog.records) if a["event"] == "quota_low"]
    assert alert["run_id"] == outcome.run_id
    assert alert["source"] == "abuseipdb"


@pytest.mark.dagrun
def test_zero_records_from_a_usually_busy_feed_alerts(
    run_dag: RunDag, feed_connections: FeedReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.models.variable import Variable

    from threatstream.monitoring.quality import decode_history, history_key

    caplog.set_level(logging.WARNING)
    Variable.set(history_key("urlhaus"), json.dumps([30, 29, 31]))
    feed_connections.use_scenario("urlhaus", "no_results")
    outcome = run_dag("threatstream_urlhaus", LOGICAL_DATE)
    assert outcome.succeeded
    (alert,) = [a for a in logged_alerts(caplog.records) if a["event"] == "zero_records"]
    assert alert["run_id"] == outcome.run_id
    assert decode_history(Variable.get(history_key("urlhaus"))) == [30, 29, 31, 0]


@pytest.mark.dagrun
def test_reading_the_record_history_logs_no_masking_warning(
    run_dag: RunDag, feed_connections: FeedReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The task runner hands every Variable it reads to the secrets masker, which warned
    "Skipping masking for a secret as it's too short" about a one-run history such as ``[30]``."""
    from airflow.models.variable import Variable
    from airflow.sdk._shared.secrets_masker.secrets_masker import SecretsMasker

    from threatstream.monitoring.quality import decode_history, history_key

    Variable.delete(history_key("feodo"))
    assert run_dag("threatstream_feodo", LOGICAL_DATE).succeeded
    stored = Variable.get(history_key("feodo"))
    SecretsMasker._has_warned_short_secret = False  # the masker warns once per process
    caplog.set_level(logging.WARNING)
    assert run_dag("threatstream_feodo", LOGICAL_DATE + timedelta(hours=1)).succeeded
    assert "too short" not in caplog.text
    assert len(decode_history(stored)) == 1


@pytest.mark.dagrun
def test_otx_since_param_catches_up_from_a_given_time(
    airflow_db: Path, cosmos_database: str, feed_connections: FeedReplayServer
) -> None:
    from threatstream_dev.runs import run_outcome

    dag = load_dagbag(DAGS_FOLDER).dags["threatstream_otx"]
    dag_run = dag.test(logical_date=LOGICAL_DATE, run_conf={"since": "2026-11-01T00:00:00+00:00"})
    outcome = run_outcome(dag.dag_id, dag_run.run_id)
    assert outcome is not None
    assert outcome.succeeded
    first = feed_connections.requests("otx")[0]
    assert first.query["modified_since"] == ["2026-11-01T00:00:00"]  # not the window start minus overlap


def test_without_deadline_support_the_dag_loads_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow 3.0 has no Deadline Alerts: the DAG loads without one and one notice is logged."""
    from threatstream import compat
    from threatstream.pipelines import defaults as dag_factory

    compat.notice_missing.cache_clear()
    monkeypatch.setattr(dag_factory, "HAS_DEADLINES", False)
    with caplog.at_level(logging.WARNING, logger="threatstream.compat"):
        dag = build_source_dag("otx")
    assert dag.deadline is None
    assert "Deadline Alerts" in caplog.text
    compat.notice_missing.cache_clear()
