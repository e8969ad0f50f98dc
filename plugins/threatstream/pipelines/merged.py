"""The DAGs over the merged view: keep it up to date, and export it as STIX 2.1.

* ``threatstream_merged_view`` runs whenever any source's ``upsert`` emits its Asset and
  merges exactly the batches those events name.
* ``threatstream_stix_export`` exports, each hour, the merged documents changed in the
  data interval (or since the ``since`` param) as one STIX 2.1 bundle in object storage.

Nothing here does I/O at import time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, AssetAny, Param

from threatstream.compat import CronDataIntervalTimetable
from threatstream.naming import MERGED_VIEW_DAG_ID, STIX_EXPORT_DAG_ID, merged_asset
from threatstream.operators.merge import MergeViewOperator
from threatstream.operators.stix_export import StixExportOperator
from threatstream.pipelines.defaults import schedule_period, threatstream_dag
from threatstream.sources import all_sources

#: How long a merge may take from being queued: it touches only the triggering batches.
MERGED_VIEW_DEADLINE = timedelta(minutes=30)


def build_merged_view_dag(**dag_kwargs: Any) -> DAG:
    """The merged-view DAG, scheduled on every registered source's Asset."""
    dag_kwargs.setdefault("tags", ["threatstream", "threat-intel", "merged-view"])
    with threatstream_dag(
        MERGED_VIEW_DAG_ID,
        deadline_name="merged_view",
        deadline=MERGED_VIEW_DEADLINE,
        description="Merge each source's freshly upserted indicators into one record per value",
        schedule=AssetAny(*(spec.asset for spec in sorted(all_sources(), key=lambda s: s.name))),
        doc_md=__doc__,
        params={
            "batches": Param(
                [],
                type="array",
                items={"type": "object", "required": ["valid_uri"]},
                title="Batches to merge",
                description='Batches to merge by hand, e.g. [{"valid_uri": "file:///.../valid.jsonl"}]; '
                "asset-triggered runs merge the batches their events name.",
            )
        },
        **dag_kwargs,
    ) as dag:
        MergeViewOperator(task_id="merge", batches="{{ params.batches }}", outlets=[merged_asset()])
    return dag


def build_stix_export_dag(schedule: str = "0 * * * *", **dag_kwargs: Any) -> DAG:
    """The STIX 2.1 export DAG: one bundle per data interval of merged-view changes."""
    dag_kwargs.setdefault("tags", ["threatstream", "threat-intel", "merged-view", "stix"])
    with threatstream_dag(
        STIX_EXPORT_DAG_ID,
        deadline_name="stix_export",
        deadline=schedule_period(schedule),
        description="Export merged indicators changed in the interval as a STIX 2.1 bundle",
        schedule=CronDataIntervalTimetable(schedule, timezone="UTC"),
        doc_md=__doc__,
        params={
            "since": Param(
                None,
                type=["null", "string"],
                format="date-time",
                title="Export from",
                description="Export changes from this time (default: the data interval start).",
            ),
            "until": Param(
                None,
                type=["null", "string"],
                format="date-time",
                title="Export until",
                description="Export changes before this time (default: the data interval end).",
            ),
        },
        **dag_kwargs,
    ) as dag:
        StixExportOperator(
            task_id="export",
            since="{{ params.since or data_interval_start.isoformat() }}",
            until="{{ params.until or data_interval_end.isoformat() }}",
        )
    return dag
