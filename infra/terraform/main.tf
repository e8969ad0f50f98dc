# What the ThreatStream pipeline needs in Azure: a Cosmos DB (NoSQL API) account, database and
# containers (the source indicators and the merged view), a Key Vault for the feed keys (Airflow's
# secrets backend), and the roles that let the Airflow identity write indicators and read the
# feed keys, without any key.

locals {
  # One source of truth: the container settings the pipeline itself reads at run time (shipped
  # in the package), for the source container and for the merged view's container.
  containers = {
    indicators = {
      name           = var.container_name
      settings       = jsondecode(file("${path.module}/../../plugins/threatstream/store/container_settings/container.json"))
      max_throughput = var.autoscale_max_throughput
    }
    merged = {
      name           = var.merged_container_name
      settings       = jsondecode(file("${path.module}/../../plugins/threatstream/store/container_settings/merged_container.json"))
      max_throughput = var.merged_autoscale_max_throughput
    }
  }
  # Cosmos DB built-in data-plane role "Cosmos DB Built-in Data Contributor".
  data_contributor_role = "00000000-0000-0000-0000-000000000002"
}

data "azurerm_client_config" "current" {}

resource "azurerm_cosmosdb_account" "threatstream" {
  name                          = "${var.name_prefix}-cosmos"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  offer_type                    = "Standard"
  kind                          = "GlobalDocumentDB"
  local_authentication_disabled      = var.key_auth_enabled ? false : true
  access_key_metadata_writes_enabled = false
  minimal_tls_version                = "Tls12"
  public_network_access_enabled      = var.public_network_access_enabled
  ip_range_filter                    = var.allowed_ip_ranges

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = var.location
    failover_priority = 0
  }

  dynamic "capabilities" {
    for_each = var.capacity_mode == "serverless" ? ["EnableServerless"] : []
    content {
      name = capabilities.value
    }
  }
}

resource "azurerm_cosmosdb_sql_database" "threatstream" {
  name                = var.database_name
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.threatstream.name
}

resource "azurerm_cosmosdb_sql_container" "containers" {
  for_each              = local.containers
  name                  = each.value.name
  resource_group_name   = var.resource_group_name
  account_name          = azurerm_cosmosdb_account.threatstream.name
  database_name         = azurerm_cosmosdb_sql_database.threatstream.name
  partition_key_paths   = [each.value.settings.partition_key_path]
  partition_key_version = 2
  # TTL on: -1 = no default expiry, each document carries its own ttl.
  default_ttl = each.value.settings.default_ttl

  dynamic "autoscale_settings" {
    for_each = var.capacity_mode == "autoscale" ? [each.value.max_throughput] : []
    content {
      max_throughput = autoscale_settings.value
    }
  }

  indexing_policy {
    indexing_mode = lower(each.value.settings.indexing_policy.indexingMode)

    dynamic "included_path" {
      for_each = each.value.settings.indexing_policy.includedPaths
      content {
        path = included_path.value.path
      }
    }

    dynamic "excluded_path" {
      for_each = each.value.settings.indexing_policy.excludedPaths
      content {
        path = excluded_path.value.path
      }
    }

    dynamic "composite_index" {
      for_each = try(each.value.settings.indexing_policy.compositeIndexes, [])
      content {
        dynamic "index" {
          for_each = composite_index.value
          content {
            path  = index.value.path
            order = lower(try(index.value.order, "ascending"))
          }
        }
      }
    }
  }
}

# The source container was a single resource before the merged view's container joined it.
moved {
  from = azurerm_cosmosdb_sql_container.indicators
  to   = azurerm_cosmosdb_sql_container.containers["indicators"]
}

# Data plane: the Airflow identity reads and writes items (no control-plane rights: the
# database and container above exist, so the pipeline's create-if-not-exists only reads them).
resource "azurerm_cosmosdb_sql_role_assignment" "airflow_data_contributor" {
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.threatstream.name
  role_definition_id  = "${azurerm_cosmosdb_account.threatstream.id}/sqlRoleDefinitions/${local.data_contributor_role}"
  principal_id        = var.airflow_principal_id
  scope               = "${azurerm_cosmosdb_account.threatstream.id}/dbs/${azurerm_cosmosdb_sql_database.threatstream.name}"
}

# Feed keys (and the Cosmos connection) as Airflow connections, read by the Azure Key Vault
# secrets backend: secrets named airflow-connections-threatstream-<source>. Values are set
# outside Terraform (az keyvault secret set), so no key ever lands in the state.
resource "azurerm_key_vault" "feeds" {
  name                       = "${var.name_prefix}-feeds-kv"
  location                   = var.location
  resource_group_name        = var.resource_group_name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90

  public_network_access_enabled = var.public_network_access_enabled
  network_acls {
    bypass         = "AzureServices"
    default_action = length(var.allowed_ip_ranges) > 0 ? "Deny" : "Allow"
    ip_rules       = var.allowed_ip_ranges
  }
}

resource "azurerm_role_assignment" "airflow_reads_feed_keys" {
  scope                = azurerm_key_vault.feeds.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = var.airflow_principal_id
}
