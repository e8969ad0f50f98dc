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

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.configuration import conf
from airflow.sdk import DAG, Param

from threatstream.compat import (
    DOUBLING_RETRY_BACKOFF,
    HAS_DEADLINES,
    AsyncCallback,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeadlineAlert,
    DeadlineReference,
    deadline_alert_options,
    notice_missing,
)
from threatstream.monitoring.notify import ThreatStreamNotifier
from threatstream.operators.fetch import FetchFeedOperator
from threatstream.operators.upsert import UpsertIndicatorsOperator
from threatstream.operators.validate import ValidateIndicatorsOperator
from threatstream.pipelines.pools import cosmos_pool, feed_pool
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
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Fetch and validate only: nothing is written to Cosmos DB (upsert is skipped).",
        )
    }
    for name, default in spec.fetch_options.items():
        schema: dict[str, Any] = {"type": [_json_type(default), "null"]}
        schema.update(spec.fetch_option_schema.get(name, {}))
        schema.setdefault("description", f"{spec.title} fetch option '{name}'")
        params[name] = Param(default, **schema)
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


def schedule_period(cron: str) -> timedelta:
    """The shortest gap between two runs of ``cron`` over the next day (its period)."""
    from croniter import croniter

    base = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; any fixed date gives the same period
    runs = croniter(cron, base)
    times: list[datetime] = [runs.get_next(datetime) for _ in range(25)]
    return min(later - earlier for earlier, later in itertools.pairwise(times))


def deadline_interval(spec: SourceSpec, cron: str) -> timedelta | None:
    """How long a run may take from being queued before it counts as stale; None: no deadline.

    ``[threatstream] <source>_deadline_minutes`` sets one source, ``[threatstream]
    deadline_minutes`` every source; 0 disables. The default is the schedule's period: a run
    not finished when the next one is due means the data is going stale.
    """
    for option in (f"{spec.name}_deadline_minutes", "deadline_minutes"):
        configured = conf.get("threatstream", option, fallback="")
        if configured.strip():
            minutes = float(configured)
            if minutes < 0:
                raise ValueError(f"[threatstream] {option} must be >= 0, got {configured}")
            return timedelta(minutes=minutes) if minutes > 0 else None
    return schedule_period(cron)


def freshness_deadline(spec: SourceSpec, cron: str) -> list[Any]:
    """The source's Deadline Alert (empty on Airflow 3.0, which has none, with a logged notice)."""
    interval = deadline_interval(spec, cron)
    if interval is None:
        return []
    if not HAS_DEADLINES:
        notice_missing("Deadline Alerts (freshness deadlines)", ">= 3.1")
        return []
    return [
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=interval,
            callback=AsyncCallback(
                ThreatStreamNotifier,
                kwargs={
                    "event": "deadline_missed",
                    "source": spec.name,
                    "details": {
                        "deadline": f"{interval.total_seconds() / 60:g} min after the run was queued"
                    },
                },
            ),
            **deadline_alert_options(f"{spec.name}_freshness"),
        )
    ]


class SourceDAG(DAG):
    """A source DAG; ``test()`` runs without its deadlines.

    Airflow 3.3.2's ``dag.test()`` (and so ``airflow dags test``) crashes after the tasks ran
    when the DAG has ``deadline=`` set (``'dict' object has no attribute 'hex'`` in
    ``DagRun.update_state``). Deadlines only matter to the scheduler, so a test run drops them
    for its duration and restores them after.
    """

    def test(self, *args: Any, **kwargs: Any) -> Any:
        if not hasattr(self, "deadline"):  # Airflow 3.0: no Deadline Alerts
            return super().test(*args, **kwargs)
        deadline = self.deadline
        self.deadline = None
        try:
            return super().test(*args, **kwargs)
        finally:
            self.deadline = deadline


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
    deadlines = freshness_deadline(spec, cron)  # empty where Airflow has no Deadline Alerts (3.0)
    if deadlines:
        dag_kwargs.setdefault("deadline", deadlines)
    dag_kwargs.setdefault("on_failure_callback", ThreatStreamNotifier(event="run_failed", source=spec.name))
    with SourceDAG(
        dag_id=spec.dag_id,
        description=f"Ingest {spec.title} indicators into Cosmos DB",
        schedule=timetable,
        start_date=DEFAULT_START_DATE,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=conf.getint("threatstream", "max_active_tasks", fallback=4),
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
            # One request stream per feed, across every run of the DAG (backfills included).
            max_active_tis_per_dag=conf.getint("threatstream", "feed_concurrency", fallback=1),
            pool=feed_pool(spec.name),
        )
        validate = ValidateIndicatorsOperator(
            task_id="validate",
            source=spec.name,
            max_reject_ratio="{{ params.max_reject_ratio }}",
        )
        upsert = UpsertIndicatorsOperator(
            task_id="upsert",
            source=spec.name,
            skip_write="{{ params.dry_run }}",
            max_active_tis_per_dag=conf.getint("threatstream", "cosmos_concurrency", fallback=1),
            pool=cosmos_pool(),
        )
        fetch >> validate >> upsert
    return dag
