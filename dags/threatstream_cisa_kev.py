"""ThreatStream: CISA Known Exploited Vulnerabilities catalogue -> Azure Cosmos DB, via Airflow."""

from threatstream.pipelines.sources import build_source_dag

dag = build_source_dag("cisa_kev")
