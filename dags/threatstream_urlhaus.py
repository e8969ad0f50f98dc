"""ThreatStream: URLhaus (abuse.ch) recent malware URLs -> Azure Cosmos DB, via Airflow."""

from threatstream.pipelines.sources import build_source_dag

dag = build_source_dag("urlhaus")
