"""ThreatStream: one Airflow DAG per list spec in include/feeds/lists/*.json (CSV or plain lists)."""

from threatstream.pipelines.sources import build_source_dag
from threatstream.sources import all_sources

for _spec in all_sources():
    if _spec.spec_file is not None:
        globals()[_spec.dag_id] = build_source_dag(_spec)
