output "cosmos_endpoint" {
  description = "The threatstream_cosmos connection's login (endpoint)."
  value       = azurerm_cosmosdb_account.threatstream.endpoint
}

output "key_vault_url" {
  description = "vault_url of the Azure Key Vault secrets backend."
  value       = azurerm_key_vault.feeds.vault_uri
}

output "cosmos_connection_json" {
  description = "AIRFLOW_CONN_THREATSTREAM_COSMOS (or the Key Vault secret airflow-connections-threatstream-cosmos): Entra ID, no key."
  value = jsonencode({
    conn_type = "azure_cosmos"
    login     = azurerm_cosmosdb_account.threatstream.endpoint
    extra = {
      database_name   = azurerm_cosmosdb_sql_database.threatstream.name
      collection_name = azurerm_cosmosdb_sql_container.containers["indicators"].name
    }
  })
}

output "merged_container_name" {
  description = "[threatstream] merged_container (AIRFLOW__THREATSTREAM__MERGED_CONTAINER): the merged view's container."
  value       = azurerm_cosmosdb_sql_container.containers["merged"].name
}
