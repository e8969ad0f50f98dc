"""The names of what the package creates in Airflow: DAGs, connections, pools, Variables, Assets.

``upsert`` of source ``<name>`` emits :func:`source_asset` with the batch's facts in the
event's ``extra``: ``source``, ``run_id``, ``valid_uri``, ``storage_conn_id``, ``written``,
``failed``, ``ingested_at``, ``data_interval_start``, ``data_interval_end``; the merged view
runs on those events and emits :func:`merged_asset`.

Plain strings, and Assets built on demand: importing this module loads no Airflow code, so the
CLI can name the store's connection before it decides to import Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Asset

#: Every Airflow object the package names starts so.
NAME_PREFIX = "threatstream"
#: Asset group shown in the Airflow UI.
ASSET_GROUP = "threat-intel"


def airflow_name(*parts: str) -> str:
    """``threatstream_<part>_<part>``: the one spelling of the package's Airflow object names."""
    return "_".join((NAME_PREFIX, *parts))


def source_asset(source: str) -> Asset:
    """The Asset of one source's indicators in the Cosmos DB store."""
    from airflow.sdk import Asset

    return Asset(
        name=airflow_name(source, "indicators"),
        uri=f"{NAME_PREFIX}://indicators/{source}",
        group=ASSET_GROUP,
    )


#: The Cosmos DB store's connection (both containers).
COSMOS_CONN_ID = airflow_name("cosmos")
#: The DAGs that are not a source's.
MERGED_VIEW_DAG_ID = airflow_name("merged_view")
STIX_EXPORT_DAG_ID = airflow_name("stix_export")
MAINTENANCE_DAG_ID = airflow_name("maintenance")
#: The storage-base folder of STIX bundles (next to each source's ``<source>/`` folder).
STIX_EXPORT_FOLDER = "stix_export"
#: Names no source may take: its DAG, connection or batch folder would be another's.
RESERVED_SOURCE_NAMES = frozenset({"cosmos", "alerts", "merged_view", "stix_export", "maintenance", "merged"})


def merged_asset() -> Asset:
    """The merged view's Asset: one document per canonical indicator across every source."""
    from airflow.sdk import Asset

    return Asset(
        name=airflow_name("merged", "indicators"),
        uri=f"{NAME_PREFIX}://indicators/_merged",
        group=ASSET_GROUP,
    )
