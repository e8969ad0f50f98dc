"""ThreatStream merged view (Airflow): one record per indicator across every source, after each upsert."""

from threatstream.merged_dags import build_merged_view_dag

dag = build_merged_view_dag()
