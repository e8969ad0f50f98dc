"""ThreatStream: Feodo Tracker (abuse.ch) botnet C2 IP blocklist -> Azure Cosmos DB, via Airflow."""

from threatstream.dag_factory import build_source_dag

dag = build_source_dag("feodo")
