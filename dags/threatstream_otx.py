"""ThreatStream: AlienVault OTX subscribed pulses -> Azure Cosmos DB, via Airflow (hourly windows)."""

from threatstream.pipelines.sources import build_source_dag

dag = build_source_dag("otx")
