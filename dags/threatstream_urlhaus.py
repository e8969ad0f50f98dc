"""ThreatStream: URLhaus (abuse.ch) recent malware URLs -> Azure Cosmos DB, via Airflow."""

from threatstream.dag_factory import build_source_dag

dag = build_source_dag("urlhaus")
