"""ThreatStream: AbuseIPDB blacklist snapshot -> Azure Cosmos DB, via Airflow (every 6 hours)."""

from threatstream.pipelines.sources import build_source_dag

dag = build_source_dag("abuseipdb")
