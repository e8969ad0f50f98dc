"""The Assets the pipeline updates, so downstream DAGs can be scheduled on fresh indicators.

``upsert`` of source ``<name>`` emits :func:`source_asset` with the batch's facts in the
event's ``extra``: ``source``, ``run_id``, ``valid_uri``, ``storage_conn_id``, ``written``,
``failed``, ``ingested_at``, ``data_interval_start``, ``data_interval_end``.
"""

from __future__ import annotations

from airflow.sdk import Asset

#: Asset group shown in the Airflow UI.
ASSET_GROUP = "threat-intel"


def source_asset(source: str) -> Asset:
    """The Asset of one source's indicators in the Cosmos DB store."""
    return Asset(
        name=f"threatstream_{source}_indicators",
        uri=f"threatstream://indicators/{source}",
        group=ASSET_GROUP,
    )


#: The merged view: one document per canonical indicator across every source.
MERGED_ASSET = Asset(
    name="threatstream_merged_indicators", uri="threatstream://indicators/_merged", group=ASSET_GROUP
)
