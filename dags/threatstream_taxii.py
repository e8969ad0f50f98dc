"""ThreatStream: a TAXII 2.1 collection's STIX indicators -> Azure Cosmos DB, via Airflow."""

from threatstream.dag_factory import build_source_dag

dag = build_source_dag("taxii")
