"""ThreatStream: one Airflow DAG per MISP feed spec in include/feeds/misp/*.json."""

from threatstream.pipelines.sources import build_source_dag
from threatstream.sources import all_sources
from threatstream.sources.misp import is_misp_source

for _spec in all_sources():
    if is_misp_source(_spec):
        globals()[_spec.dag_id] = build_source_dag(_spec)
