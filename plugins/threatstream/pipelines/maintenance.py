"""The maintenance DAG: daily retention of everything the package writes to object storage."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from threatstream.compat import CronTriggerTimetable
from threatstream.naming import MAINTENANCE_DAG_ID
from threatstream.operators.retention import ApplyRetentionOperator
from threatstream.pipelines.defaults import threatstream_dag

DOC = """# ThreatStream maintenance

**apply_retention** deletes what the package wrote under `storage_base` once it is past its
retention: each source's batches (raw pages, `valid.jsonl`, `store_quarantine.jsonl`) and the
STIX bundles after `[threatstream] retention_days` (default 30); quarantine files are kept
until `[threatstream] quarantine_retention_days` (default 90), then the whole run prefix goes.
Only the folders of registered sources and the STIX export's folder are touched: anything
else under the same base is left alone. Trigger with `dry_run: true` to see what would be
deleted.
"""


def build_maintenance_dag(schedule: str = "30 3 * * *") -> DAG:
    """The daily maintenance DAG (03:30 UTC by default)."""
    with threatstream_dag(
        MAINTENANCE_DAG_ID,
        deadline_name="maintenance",
        deadline=None,
        description="Delete ThreatStream batch files and STIX bundles past their retention",
        schedule=CronTriggerTimetable(schedule, timezone="UTC"),
        params={
            "dry_run": Param(
                False, type="boolean", title="Dry run", description="Only report what would be deleted."
            ),
        },
        doc_md=DOC,
        tags=["threatstream", "maintenance"],
    ) as dag:
        ApplyRetentionOperator(task_id="apply_retention", report_only="{{ params.dry_run }}")
    return dag
