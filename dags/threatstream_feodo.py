"""ThreatStream: Feodo Tracker (abuse.ch) botnet C2 IP blocklist -> Azure Cosmos DB, via Airflow."""

from threatstream.pipelines.sources import build_source_dag

dag = build_source_dag("feodo")
