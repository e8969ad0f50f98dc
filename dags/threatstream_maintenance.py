"""ThreatStream maintenance via Airflow: daily deletion of batch files past their retention."""

from threatstream.pipelines.maintenance import build_maintenance_dag

dag = build_maintenance_dag()
