"""ThreatStream: threat-intelligence feeds -> canonical indicators -> Azure Cosmos DB, on Airflow 3."""
