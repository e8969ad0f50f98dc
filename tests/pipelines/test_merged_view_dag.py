"""The merged view end to end: batches from three sources, asset-triggered runs, concurrency."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from threatstream.canonical.vocabulary import TLP, IndicatorType
from threatstream.merged.merge import merge, prepare_for_write
from threatstream.naming import source_asset
from threatstream.parsing.timestamps import SORTABLE, format_utc
from threatstream.records.indicators import Observation
from threatstream.sources import source_names
from threatstream.store.merged import MergedViewHook
from threatstream_dev.runs import RunDag, RunOutcome, load_dagbag, run_outcome

pytestmark = pytest.mark.dagrun

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "threatstream_merged_view"
IP = "94.156.8.244"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

#: A run of the merged-view DAG with a run conf (hand-listed batches).
RunMerge = Callable[[dict[str, Any]], RunOutcome]


@pytest.fixture
def run_merge(airflow_db: Path, cosmos_database: str) -> RunMerge:
    def run(conf: dict[str, Any]) -> RunOutcome:
        dag = load_dagbag(DAGS_FOLDER).dags[DAG_ID]
        dag_run = dag.test(run_conf=conf)
        outcome = run_outcome(DAG_ID, dag_run.run_id)
        assert outcome is not None
        return outcome

    return run


def write_batch(folder: Path, source: str, observations: list[Observation], ingested_at: datetime) -> str:
    """A source batch's ``valid.jsonl``, built the way validate builds it."""
    path = folder / source / "valid.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for observation in observations:
            document = observation.to_indicator(
                source, ingested_at=ingested_at, default_ttl=timedelta(days=30)
            ).to_document()
            handle.write(json.dumps(document) + "\n")
    return path.as_uri()


def ipv4(value: str = IP, **fields: Any) -> Observation:
    return Observation(indicator_type=IndicatorType.IPV4, value=value, **fields)


def three_batches(folder: Path) -> list[dict[str, Any]]:
    """The same IPv4 (spelt differently) from OTX, AbuseIPDB and Feodo, plus one value each."""
    otx = [
        ipv4(f" {IP} ", tags=("mirai",), tlp=TLP.GREEN, first_seen=NOW - timedelta(days=20)),
        ipv4("5.188.10.197"),
    ]
    abuseipdb = [ipv4(IP, confidence=100, last_seen=NOW - timedelta(hours=2))]
    feodo = [
        ipv4(IP, tags=("botnet", "c2"), tlp=TLP.AMBER),
        Observation(indicator_type=IndicatorType.DOMAIN, value="Evil.Example.COM."),
    ]
    return [
        {"valid_uri": write_batch(folder, "otx", otx, NOW - timedelta(days=7))},
        {"valid_uri": write_batch(folder, "abuseipdb", abuseipdb, NOW)},
        {"valid_uri": write_batch(folder, "feodo", feodo, NOW - timedelta(days=14))},
    ]


def test_the_dag_is_scheduled_on_every_source_asset() -> None:
    dagbag = load_dagbag(DAGS_FOLDER)
    assert dagbag.import_errors == {}
    assert {DAG_ID, "threatstream_stix_export"} <= set(dagbag.dag_ids)
    dag = dagbag.dags[DAG_ID]
    scheduled = {asset.uri for asset in dag.timetable.asset_condition.objects}
    assert scheduled == {source_asset(name).uri for name in source_names()}
    assert [task.task_id for task in dag.tasks] == ["merge"]
    assert {outlet.name for outlet in dag.tasks[0].outlets} == {"threatstream_merged_indicators"}
    for source in source_names():
        upsert = dagbag.dags[f"threatstream_{source}"].get_task("upsert")
        assert [outlet.uri for outlet in upsert.outlets] == [source_asset(source).uri]


@pytest.mark.parametrize("dag_id", [DAG_ID, "threatstream_stix_export"])
def test_dag_conventions(dag_id: str) -> None:
    dag = load_dagbag(DAGS_FOLDER).dags[dag_id]
    assert {"threatstream", "merged-view"} <= set(dag.tags)
    assert dag.doc_md
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 2
        assert task.execution_timeout is not None
        assert task.owner == "threatstream"


def test_three_sources_yield_one_document(run_merge: RunMerge, tmp_path: Path) -> None:
    outcome = run_merge({"batches": three_batches(tmp_path)})
    assert outcome.succeeded
    result = outcome.results["merge"]
    assert (result["batches"], result["documents"], result["created"], result["updated"]) == (3, 5, 3, 2)
    assert result["failed"] == result["conflicts"] == 0
    assert result["ru_per_document"] > 0

    merged, charge = MergedViewHook().read_merged("IPv4", IP)
    assert merged is not None
    assert charge == 1.0  # the local server reports 1 RU for every request
    assert merged["source_count"] == 3
    assert [entry["source"] for entry in merged["sources"]] == ["abuseipdb", "feodo", "otx"]
    assert merged["tags"] == ["botnet", "c2", "mirai"]
    assert merged["tlp"] == "amber"
    assert merged["first_seen"] == format_utc(NOW - timedelta(days=20), SORTABLE)
    assert merged["last_seen"] == format_utc(NOW, SORTABLE)
    # The documented function, as of the latest report (docs/merged-view.md):
    #   abuseipdb 0.8 * 1.0 * 1 = 0.8; otx 0.6 * 0.6 * 0.5 (one IPv4 half-life) = 0.18;
    #   feodo 0.95 * 0.9 * 0.25 (two half-lives) = 0.21375
    assert merged["score"] == round(100 * (1 - 0.2 * 0.82 * (1 - 0.21375)), 1) == 87.1
    assert merged["ttl"] > 0
    assert merged["expires_at"] > format_utc(datetime.now(UTC), SORTABLE)
    by_source = {entry["source"]: entry for entry in merged["sources"]}
    assert by_source["otx"]["batch_uri"].endswith("/otx/valid.jsonl")
    assert by_source["abuseipdb"]["confidence"] == 100

    assert MergedViewHook().read_merged("domain", "evil.example.com")[0] is not None


def test_rerunning_the_same_batches_changes_nothing(run_merge: RunMerge, tmp_path: Path) -> None:
    batches = three_batches(tmp_path)
    assert run_merge({"batches": batches}).succeeded
    before, _ = MergedViewHook().read_merged("IPv4", IP)
    again = run_merge({"batches": list(reversed(batches))})
    assert again.succeeded
    assert again.results["merge"]["unchanged"] == 5
    assert again.results["merge"]["created"] == again.results["merge"]["updated"] == 0
    after, _ = MergedViewHook().read_merged("IPv4", IP)
    assert after == before  # not even rewritten: same _etag and _ts


def test_a_missing_batch_fails_the_run_after_merging_the_others(run_merge: RunMerge, tmp_path: Path) -> None:
    batches = [{"valid_uri": (tmp_path / "gone" / "valid.jsonl").as_uri()}, *three_batches(tmp_path)]
    outcome = run_merge({"batches": batches})
    assert outcome.state == "failed"
    assert MergedViewHook().read_merged("IPv4", IP)[0] is not None


@pytest.mark.parametrize("conf", [{}, {"batches": [{"valid_uri": 5}]}], ids=["none", "malformed"])
def test_a_run_without_a_proper_batch_fails_at_once(run_merge: RunMerge, conf: dict[str, Any]) -> None:
    outcome = run_merge(conf)
    assert outcome.state == "failed"
    assert outcome.tries["merge"] == 1  # a bad request is not retried


@pytest.mark.usefixtures("cosmos_database")
def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    """Many sources merged into one value at once: every provenance entry survives."""
    hook = MergedViewHook(max_concurrency=8)
    documents = [
        ipv4(confidence=50 + n)
        .to_indicator(f"feed{n:02d}", ingested_at=NOW, default_ttl=timedelta(days=1))
        .to_document()
        for n in range(24)
    ]
    stats = hook.merge_documents(documents)
    assert (stats.documents, stats.failed) == (24, 0)
    assert stats.created + stats.updated == 24
    assert stats.conflicts > 0  # the writers really did collide
    merged, _ = hook.read_merged("IPv4", IP)
    assert merged is not None
    assert merged["source_count"] == 24
    expected = None
    for document in documents:
        expected = merge(expected, document)
    assert expected is not None
    written = prepare_for_write(expected, NOW)
    assert written is not None
    assert merged["score"] == written["score"]


@pytest.mark.usefixtures("cosmos_database")
def test_the_merged_document_lives_as_long_as_its_latest_source() -> None:
    """Cosmos DB's own TTL removes the record when the last source's report expires."""
    hook = MergedViewHook()
    now = datetime.now(UTC)
    documents = [
        ipv4().to_indicator(source, ingested_at=now, default_ttl=timedelta(seconds=seconds)).to_document()
        for source, seconds in (("abuseipdb", 1), ("otx", 5))
    ]
    assert hook.merge_documents(documents).failed == 0
    merged, _ = hook.read_merged("IPv4", IP)
    assert merged is not None
    assert merged["ttl"] <= 5
    time.sleep(2)  # abuseipdb's report has expired, otx's has not: the record stays
    assert hook.read_merged("IPv4", IP)[0] is not None
    time.sleep(5)  # both expired: the local server's TTL sweep removed the record
    assert hook.read_merged("IPv4", IP)[0] is None


@pytest.mark.usefixtures("cosmos_database")
def test_an_indicator_expired_at_every_source_leaves_the_view(tmp_path: Path) -> None:
    hook = MergedViewHook()
    old = ipv4().to_indicator("abuseipdb", ingested_at=NOW, default_ttl=timedelta(hours=1)).to_document()
    stats = hook.merge_documents([old], clock=lambda: NOW)
    assert stats.created == 1
    # The only source's report expires; merging it again (e.g. a late rerun) removes the record.
    stats = hook.merge_documents([old], clock=lambda: NOW + timedelta(hours=2))
    assert stats.deleted == 1
    assert hook.read_merged("IPv4", IP)[0] is None


def deploy_now(dag_id: str) -> None:
    """Unpause the DAG as if it had just been deployed: asset events queue runs for unpaused
    DAGs only, and (without catchup) only events after it started scheduling on its assets
    count, so earlier tests' upserts are not merged here."""
    from airflow.models.asset import DagScheduleAssetReference
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=False))
        session.execute(
            update(DagScheduleAssetReference)
            .where(DagScheduleAssetReference.dag_id == dag_id)
            .values(created_at=datetime.now(UTC))
        )


def upsert_event_extra(source: str) -> dict[str, Any]:
    """The ``extra`` of the latest asset event of a source."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        event = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == source_asset(source).uri)
            .order_by(AssetEvent.id.desc())
            .limit(1)
        ).one()
        return dict(event.extra)


def asset_triggered_run(dag_id: str) -> RunOutcome | None:
    """Create the run the scheduler creates for queued asset events (None when nothing is
    queued), then run it in-process."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import func, select

    from threatstream_dev.runs import _drive, _scheduler_dag

    dag = load_dagbag(DAGS_FOLDER).dags[dag_id]
    with create_session() as session:
        runs_before = session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id))
        dag_model = session.scalars(select(DagModel).where(DagModel.dag_id == dag_id)).one()
        SchedulerJobRunner(job=Job())._create_dag_runs_asset_triggered(
            dag_models=[dag_model], session=session
        )
        session.commit()
        runs = list(session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id)))
        if len(runs) == runs_before:
            return None
        dag_run = runs[-1]
        dag_run.dag = _scheduler_dag(dag)
        dag_run.state = DagRunState.RUNNING
        session.commit()
        _drive(dag, dag_run, session)
        run_id = dag_run.run_id
    return run_outcome(dag_id, run_id)


def test_upserts_trigger_the_merged_view_through_their_assets(run_dag: RunDag) -> None:
    from threatstream_dev.runs import sync_dags_to_db

    sync_dags_to_db()  # as the dag-processor does: the merged view is scheduled on the assets
    asset_triggered_run(DAG_ID)  # consume runs other tests left queued, as the scheduler would
    deploy_now(DAG_ID)
    logical_date = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    otx, abuseipdb = (
        run_dag("threatstream_otx", logical_date),
        run_dag("threatstream_abuseipdb", logical_date),
    )
    assert otx.succeeded
    assert abuseipdb.succeeded

    assert set(upsert_event_extra("otx")) == {
        "source",
        "run_id",
        "valid_uri",
        "storage_conn_id",
        "written",
        "failed",
        "ingested_at",
        "data_interval_start",
        "data_interval_end",
        "summary",  # the run's counts, shown with the asset event in the UI
        "reasons",  # the most frequent quarantine reasons, for the feed health API
    }
    outcome = asset_triggered_run(DAG_ID)
    assert outcome is not None
    assert outcome.succeeded, outcome
    result = outcome.results["merge"]
    assert result["batches"] == 2
    assert result["documents"] == otx.results["upsert"]["written"] + abuseipdb.results["upsert"]["written"]
    assert result["failed"] == 0
    # The values both feeds report: one record each, with both sources.
    values = {
        source: {
            (doc["indicator_type"], doc["indicator_value"])
            for doc in map(json.loads, Path(uri.removeprefix("file://")).read_text().splitlines())
        }
        for source, uri in (
            ("otx", otx.results["validate"]["valid_uri"]),
            ("abuseipdb", abuseipdb.results["validate"]["valid_uri"]),
        )
    }
    shared = values["otx"] & values["abuseipdb"]
    assert len(shared) >= 2
    assert result["created"] == result["documents"] - len(shared)
    assert result["updated"] == len(shared)
    for kind, value in shared:
        merged, _ = MergedViewHook().read_merged(kind, value)
        assert merged is not None, value
        assert merged["source_names"] == ["abuseipdb", "otx"]
        assert {entry["batch_uri"] for entry in merged["sources"]} == {
            otx.results["validate"]["valid_uri"],
            abuseipdb.results["validate"]["valid_uri"],
        }
    both = MergedViewHook().query(
        "SELECT c.indicator_type, c.indicator_value FROM c WHERE c.source_count = 2"
    )
    assert {(doc["indicator_type"], doc["indicator_value"]) for doc in both} == shared
