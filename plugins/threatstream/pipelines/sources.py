"""One factory builds every source's DAG: ``fetch >> validate >> upsert``.

DAG files stay one line long (``dag = build_source_dag("urlhaus")``) and nothing here does
I/O at import time: connections, variables and the store are touched only when tasks run,
and no SDK heavier than Airflow's own is imported while a DAG file is parsed.

Every DAG gets: a freshness Deadline Alert and a failure callback, both sent through
:class:`threatstream.monitoring.notify.ThreatStreamNotifier`; trigger-form params with JSON schemas
(``dry_run``, the source's fetch options, ``max_reject_ratio``); concurrency limits that keep
a long backfill from exhausting the feed's quota or flooding Cosmos DB.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param

from threatstream.compat import CronDataIntervalTimetable, CronTriggerTimetable
from threatstream.naming import COSMOS_CONN_ID
from threatstream.operators.fetch import FetchFeedOperator
from threatstream.operators.upsert import UpsertIndicatorsOperator
from threatstream.operators.validate import ValidateIndicatorsOperator
from threatstream.pipelines.defaults import configured_deadline, schedule_period, threatstream_dag
from threatstream.pipelines.pools import cosmos_pool, feed_pool
from threatstream.settings import settings
from threatstream.sources import SourceSpec, get_source


def _params(spec: SourceSpec) -> dict[str, Param]:
    params = {
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Fetch and validate only: nothing is written to Cosmos DB (upsert is skipped; "
            "the run summary is still logged).",
        )
    }
    for name, default in spec.fetch_options.items():
        schema: dict[str, Any] = {"type": [_json_type(default), "null"]}
        schema.update(spec.fetch_option_schema.get(name, {}))
        if not schema.get("title") or not schema.get("description"):
            raise ValueError(
                f"{spec.name}: fetch option {name!r} needs a title and a description in its hook's "
                "option_schema (the trigger form shows them)"
            )
        params[name] = Param(default, **schema)
    params["max_reject_ratio"] = Param(
        spec.max_reject_ratio,
        type="number",
        minimum=0,
        maximum=1,
        title="Most rejected (share)",
        description="Fail the run when more than this share of records is rejected (0-1; schema drift).",
    )
    return params


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or value is None:
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def source_deadline(spec: SourceSpec, cron: str) -> timedelta | None:
    """How long a run of ``spec`` may take from being queued before its data counts as stale.

    ``[threatstream] <source>_deadline_minutes`` or ``deadline_minutes``; by default the
    schedule's period: a run not finished when the next one is due means stale data.
    """
    return configured_deadline(spec.name, schedule_period(cron))


def _doc_md(spec: SourceSpec) -> str:
    backfill = (
        "Runs cover real data intervals, so `airflow backfill create` recovers past windows."
        if spec.interval_based
        else "The feed is a snapshot with no time filter: past data cannot be fetched, so backfill runs "
        "skip without calling the feed."
    )
    return (
        f"# {spec.title} -> Cosmos DB\n\n{spec.description.strip()}\n\n"
        "* **fetch** writes the raw response pages to object storage; XCom carries batch metadata.\n"
        "* **validate** canonicalises every record into `valid.jsonl` and quarantines rejects, with "
        "their reason, in `quarantine.jsonl`.\n"
        "* **upsert** writes the valid indicators to Cosmos DB in transactional batches.\n\n"
        f"Connections: `{spec.conn_id}` (the feed) and `{COSMOS_CONN_ID}` (the store). "
        f"{backfill}\n"
    )


def build_source_dag(source: str | SourceSpec, *, schedule: str | None = None, **dag_kwargs: Any) -> DAG:
    """Build the ingestion DAG of one source.

    :param source: a registered source name or a :class:`SourceSpec`.
    :param schedule: cron expression overriding the source's default schedule.
    :param dag_kwargs: further ``DAG`` arguments (e.g. ``deadline``, ``tags``).
    """
    spec = get_source(source) if isinstance(source, str) else source
    cron = schedule or spec.schedule
    timetable = (
        CronDataIntervalTimetable(cron, timezone="UTC")
        if spec.interval_based
        else CronTriggerTimetable(cron, timezone="UTC")
    )
    dag_kwargs.setdefault("tags", ["threatstream", "threat-intel", spec.name])
    with threatstream_dag(
        spec.dag_id,
        deadline_name=spec.name,
        deadline=source_deadline(spec, cron),
        source=spec.name,
        description=f"Ingest {spec.title} indicators into Cosmos DB",
        schedule=timetable,
        max_active_tasks=settings().max_active_tasks,
        params=_params(spec),
        doc_md=_doc_md(spec),
        **dag_kwargs,
    ) as dag:
        fetch = FetchFeedOperator(
            task_id="fetch",
            source=spec.name,
            fetch_options={name: f"{{{{ params.{name} }}}}" for name in spec.fetch_options},
            # One request stream per feed, across every run of the DAG (backfills included).
            max_active_tis_per_dag=settings().feed_concurrency,
            pool=feed_pool(spec),
        )
        validate = ValidateIndicatorsOperator(
            task_id="validate",
            source=spec.name,
            max_reject_ratio="{{ params.max_reject_ratio }}",
        )
        upsert = UpsertIndicatorsOperator(
            task_id="upsert",
            source=spec.name,
            report_only="{{ params.dry_run }}",
            max_active_tis_per_dag=settings().cosmos_concurrency,
            pool=cosmos_pool(),
        )
        fetch >> validate >> upsert
    return dag
