"""ThreatStream merged view (Airflow): one record per indicator across every source, after each upsert."""

from threatstream.pipelines.merged import build_merged_view_dag

dag = build_merged_view_dag()
