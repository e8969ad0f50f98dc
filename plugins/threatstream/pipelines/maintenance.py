"""The maintenance DAG: daily retention of batch files."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from threatstream.compat import CronTriggerTimetable
from threatstream.operators.retention import ApplyRetentionOperator
from threatstream.pipelines.sources import DEFAULT_START_DATE, default_args

DAG_ID = "threatstream_maintenance"

DOC = """# ThreatStream maintenance

**apply_retention** deletes batch files (raw pages, `valid.jsonl`) of runs older than
`[threatstream] retention_days` (default 30) and keeps quarantine files until
`[threatstream] quarantine_retention_days` (default 90), then deletes the whole run prefix.
Only the folders of registered sources under `storage_base` are touched. Trigger with
`dry_run: true` to see what would be deleted.
"""


def build_maintenance_dag(schedule: str = "30 3 * * *") -> DAG:
    """The daily maintenance DAG (03:30 UTC by default)."""
    with DAG(
        dag_id=DAG_ID,
        description="Delete ThreatStream batch files past their retention",
        schedule=CronTriggerTimetable(schedule, timezone="UTC"),
        start_date=DEFAULT_START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        params={
            "dry_run": Param(False, type="boolean", description="Only report what would be deleted."),
        },
        render_template_as_native_obj=True,
        doc_md=DOC,
        tags=["threatstream", "maintenance"],
    ) as dag:
        ApplyRetentionOperator(task_id="apply_retention", report_only="{{ params.dry_run }}")
    return dag
