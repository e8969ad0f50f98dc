variable "resource_group_name" {
  description = "Existing resource group for the Cosmos DB account and the Key Vault."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. westeurope."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the account and vault names (lower-case letters and digits, 3-16 characters)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,15}$", var.name_prefix))
    error_message = "name_prefix must be 3-16 lower-case letters and digits, starting with a letter."
  }
}

variable "airflow_principal_id" {
  description = "Object (principal) id of the identity Airflow runs as (managed identity, workload identity or service principal)."
  type        = string
}

variable "capacity_mode" {
  description = "serverless (pay per request; one region) or autoscale (provisioned RU/s that scale 10x)."
  type        = string
  default     = "serverless"
  validation {
    condition     = contains(["serverless", "autoscale"], var.capacity_mode)
    error_message = "capacity_mode must be serverless or autoscale."
  }
}

variable "autoscale_max_throughput" {
  description = "Maximum RU/s of the container when capacity_mode is autoscale (1000 or more, in steps of 1000)."
  type        = number
  default     = 4000
}

variable "database_name" {
  description = "Cosmos DB database (the connection's database_name extra)."
  type        = string
  default     = "threatstream"
}

variable "container_name" {
  description = "Cosmos DB container (the connection's collection_name extra)."
  type        = string
  default     = "indicators"
}

variable "merged_container_name" {
  description = "Cosmos DB container of the merged view ([threatstream] merged_container)."
  type        = string
  default     = "indicators_merged"
}

variable "merged_autoscale_max_throughput" {
  description = "Maximum RU/s of the merged view's container when capacity_mode is autoscale."
  type        = number
  default     = 4000
}

variable "key_auth_enabled" {
  description = "Keep account keys enabled. false: Microsoft Entra ID only (no key exists to leak)."
  type        = bool
  default     = false
}

variable "public_network_access_enabled" {
  description = "Reach Cosmos DB and the Key Vault over public endpoints (false: private endpoints only, set up separately)."
  type        = bool
  default     = true
}

variable "allowed_ip_ranges" {
  description = "Egress IPs/CIDRs of the Airflow deployment (Astro's or MWAA's NAT); empty allows every address."
  type        = list(string)
  default     = []
}
