"""The DAGs over the merged view: keep it up to date, and export it as STIX 2.1.

* ``threatstream_merged_view`` runs whenever any source's ``upsert`` emits its Asset and
  merges exactly the batches those events name.
* ``threatstream_stix_export`` exports, each hour, the merged documents changed in the
  data interval (or since the ``since`` param) as one STIX 2.1 bundle in object storage.

Nothing here does I/O at import time.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, AssetAny, Param

from threatstream.compat import CronDataIntervalTimetable
from threatstream.operators.merge import MergeViewOperator
from threatstream.operators.stix_export import StixExportOperator
from threatstream.pipelines.sources import DEFAULT_START_DATE, default_args
from threatstream.sources import SOURCES
from threatstream.sources.assets import MERGED_ASSET, source_asset

MERGED_VIEW_DAG_ID = "threatstream_merged_view"
STIX_EXPORT_DAG_ID = "threatstream_stix_export"


def _dag(dag_id: str, description: str, schedule: Any, params: dict[str, Param], **dag_kwargs: Any) -> DAG:
    """A DAG with the project's conventions (no catchup, one run at a time, retries)."""
    return DAG(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=DEFAULT_START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        params=params,
        render_template_as_native_obj=True,
        doc_md=__doc__,
        **dag_kwargs,
    )


def build_merged_view_dag(**dag_kwargs: Any) -> DAG:
    """The merged-view DAG, scheduled on every registered source's Asset."""
    dag_kwargs.setdefault("tags", ["threatstream", "threat-intel", "merged-view"])
    with _dag(
        MERGED_VIEW_DAG_ID,
        "Merge each source's freshly upserted indicators into one record per value",
        AssetAny(*(source_asset(name) for name in sorted(SOURCES))),
        {
            "batches": Param(
                [],
                type="array",
                items={"type": "object", "required": ["valid_uri"]},
                description='Batches to merge by hand, e.g. [{"valid_uri": "file:///.../valid.jsonl"}]; '
                "asset-triggered runs merge the batches their events name.",
            )
        },
        **dag_kwargs,
    ) as dag:
        MergeViewOperator(task_id="merge", batches="{{ params.batches }}", outlets=[MERGED_ASSET])
    return dag


def build_stix_export_dag(schedule: str = "0 * * * *", **dag_kwargs: Any) -> DAG:
    """The STIX 2.1 export DAG: one bundle per data interval of merged-view changes."""
    dag_kwargs.setdefault("tags", ["threatstream", "threat-intel", "merged-view", "stix"])
    with _dag(
        STIX_EXPORT_DAG_ID,
        "Export merged indicators changed in the interval as a STIX 2.1 bundle",
        CronDataIntervalTimetable(schedule, timezone="UTC"),
        {
            "since": Param(
                None,
                type=["null", "string"],
                format="date-time",
                description="Export changes from this time (default: the data interval start).",
            ),
            "until": Param(
                None,
                type=["null", "string"],
                format="date-time",
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
