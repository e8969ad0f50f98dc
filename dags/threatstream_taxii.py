"""ThreatStream: a TAXII 2.1 collection's STIX indicators -> Azure Cosmos DB, via Airflow."""

from threatstream.pipelines.sources import build_source_dag

dag = build_source_dag("taxii")
