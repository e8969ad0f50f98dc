"""ThreatStream: one Airflow DAG per list spec in include/feeds/lists/*.json (CSV or plain lists)."""

from threatstream.pipelines.sources import build_source_dag
from threatstream.sources.csv_list import list_sources

for _list in list_sources():
    globals()[_list.dag_id] = build_source_dag(_list)
