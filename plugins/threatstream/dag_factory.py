"""One factory builds every source's DAG: ``fetch >> validate >> upsert``.

DAG files stay one line long (``dag = build_source_dag("urlhaus")``) and nothing here does
I/O at import time: connections, variables and the store are touched only when tasks run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.configuration import conf
from airflow.sdk import DAG, Param

from threatstream.assets import source_asset
from threatstream.compat import DOUBLING_RETRY_BACKOFF, CronDataIntervalTimetable, CronTriggerTimetable
from threatstream.operators.fetch import FetchFeedOperator
from threatstream.operators.upsert import UpsertIndicatorsOperator
from threatstream.operators.validate import ValidateIndicatorsOperator
from threatstream.sources import SourceSpec, get_source

#: Runs are never created for dates before this one.
DEFAULT_START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def default_args() -> dict[str, Any]:
    """Task defaults; retry timing can be tuned with ``[threatstream]`` options."""
    retry_delay = conf.getfloat("threatstream", "retry_delay_seconds", fallback=60.0)
    return {
        "owner": "threatstream",
        "retries": conf.getint("threatstream", "retries", fallback=3),
        "retry_delay": timedelta(seconds=retry_delay),
        "retry_exponential_backoff": DOUBLING_RETRY_BACKOFF,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=60),
    }


def _params(spec: SourceSpec) -> dict[str, Param]:
    params = {
        name: Param(
            default, type=[_json_type(default), "null"], description=f"{spec.title} fetch option '{name}'"
        )
        for name, default in spec.fetch_options.items()
    }
    params["max_reject_ratio"] = Param(
        spec.max_reject_ratio,
        type="number",
        minimum=0,
        maximum=1,
        description="Fail the run when more than this share of records is rejected (schema drift).",
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


def _doc_md(spec: SourceSpec) -> str:
    backfill = (
        "Runs cover real data intervals, so `airflow backfill create` recovers past windows."
        if spec.interval_based
        else "The feed is a snapshot with no time filter: backfilling past dates fetches today's data."
    )
    return (
        f"# {spec.title} -> Cosmos DB\n\n{spec.description.strip()}\n\n"
        "* **fetch** writes the raw response pages to object storage; XCom carries batch metadata.\n"
        "* **validate** canonicalises every record into `valid.jsonl` and quarantines rejects, with "
        "their reason, in `quarantine.jsonl`.\n"
        "* **upsert** writes the valid indicators to Cosmos DB in transactional batches.\n\n"
        f"Connections: `threatstream_{spec.name}` (the feed) and `threatstream_cosmos` (the store). "
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
    with DAG(
        dag_id=spec.dag_id,
        description=f"Ingest {spec.title} indicators into Cosmos DB",
        schedule=timetable,
        start_date=DEFAULT_START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        params=_params(spec),
        render_template_as_native_obj=True,
        doc_md=_doc_md(spec),
        **dag_kwargs,
    ) as dag:
        fetch = FetchFeedOperator(
            task_id="fetch",
            source=spec.name,
            fetch_options={name: f"{{{{ params.{name} }}}}" for name in spec.fetch_options},
        )
        validate = ValidateIndicatorsOperator(
            task_id="validate",
            source=spec.name,
            max_reject_ratio="{{ params.max_reject_ratio }}",
        )
        upsert = UpsertIndicatorsOperator(
            task_id="upsert", source=spec.name, outlets=[source_asset(spec.name)]
        )
        fetch >> validate >> upsert
    return dag
