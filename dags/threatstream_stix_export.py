"""ThreatStream (Airflow): the merged view's hourly changes as a STIX 2.1 bundle in object storage."""

from threatstream.pipelines.merged import build_stix_export_dag

dag = build_stix_export_dag()
