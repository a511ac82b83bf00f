# Every feature of infra/terraform at once, for Terraform's own checks
# (tests/infra/test_terraform_plan.py: init, validate, plan on google 6.14.0 and
# 6.50.0). Never applied. Two instances, since schedules need a private function
# with "iam" while public exposure forbids "iam":
#   public    - webhook + API key, allUsers, audit to a log bucket, APIs enabled, user-managed
#               secret replicas, e-mail alerts, the record lookup off, every optional variable set;
#   scheduled - iam + schedules + invoker members, audit to BigQuery, APIs left to an
#               administrator (enable_apis = false), alerts to nobody, every optional variable set.
# Adding a module variable? Give it a non-default value in both blocks below
# (terraform.tfvars holds the values; variables.tf declares them), so the plan
# exercises it.

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.14"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.9"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "public" {
  source = "../../../../infra/terraform"

  project_id                       = var.project_id
  region                           = var.region
  name                             = "cec-routes-public"
  source_dir                       = var.source_dir
  runtime                          = var.runtime
  caller_auth                      = ["webhook", "api_key"]
  public_access                    = true
  invoker_members                  = var.invoker_members
  cec_base_url                     = var.cec_base_url
  cec_token_url                    = var.cec_token_url
  log_level                        = var.log_level
  request_budget_seconds           = var.request_budget_seconds
  timeout_seconds                  = var.timeout_seconds
  available_memory                 = var.available_memory
  available_cpu                    = var.available_cpu
  max_instance_request_concurrency = var.max_instance_request_concurrency
  min_instance_count               = var.min_instance_count
  max_instance_count               = var.max_instance_count
  ingress_settings                 = var.ingress_settings
  extra_environment_variables      = var.extra_environment_variables
  labels                           = var.labels
  iam_propagation_seconds          = var.iam_propagation_seconds
  monitoring                       = var.monitoring
  plan_tokens                      = var.plan_tokens
  caller_policies                  = var.caller_policies
  audit_sink                       = "log_bucket"
  audit_retention_days             = var.audit_retention_days
  idempotency_store                = "firestore"
  create_firestore_database        = true
  firestore_database_name          = "cec-routes-public"
  firestore_location               = var.region
  idempotency_collection           = "public-idempotency"
  idempotency_on_store_error       = "proceed"
  secrets_source                   = "volume"
  enable_apis                      = true
  notification_emails              = var.notification_emails
  protected_access_codes           = var.protected_access_codes
  lookup_before_delete             = false
  secret_replica_locations         = var.secret_replica_locations
  vpc_connector                    = var.vpc_connector
  vpc_connector_egress_settings    = "PRIVATE_RANGES_ONLY"
  audit_locked                     = true
  audit_bucket_prevent_destroy     = false
  audit_project                    = var.audit_project
  audit_kms_key_name               = var.audit_kms_key_name
  secret_kms_key_names             = var.secret_kms_key_names
  secret_versions                  = { webhook = "3", api_keys = "2" }
  firestore_deletable              = true
}

module "scheduled" {
  source = "../../../../infra/terraform"

  project_id                       = var.project_id
  region                           = var.region
  name                             = "cec-routes-sched"
  source_dir                       = var.source_dir
  runtime                          = var.runtime
  caller_auth                      = ["iam", "api_key"]
  public_access                    = false
  invoker_members                  = var.invoker_members
  cec_base_url                     = var.cec_base_url
  cec_token_url                    = var.cec_token_url
  log_level                        = var.log_level
  request_budget_seconds           = var.request_budget_seconds
  timeout_seconds                  = var.timeout_seconds
  available_memory                 = var.available_memory
  available_cpu                    = var.available_cpu
  max_instance_request_concurrency = var.max_instance_request_concurrency
  min_instance_count               = var.min_instance_count
  max_instance_count               = var.max_instance_count
  ingress_settings                 = var.ingress_settings
  extra_environment_variables      = var.extra_environment_variables
  schedules                        = var.schedules
  scheduler_retry                  = var.scheduler_retry
  labels                           = var.labels
  iam_propagation_seconds          = var.iam_propagation_seconds
  monitoring                       = merge(var.monitoring, { notification_channels = [] })
  plan_tokens                      = var.plan_tokens
  caller_policies                  = var.caller_policies
  audit_sink                       = "bigquery"
  audit_retention_days             = var.audit_retention_days
  idempotency_store                = "firestore"
  create_firestore_database        = false
  firestore_database_name          = "(default)"
  firestore_location               = null
  idempotency_collection           = "scheduled-idempotency"
  idempotency_on_store_error       = "fail"
  secrets_source                   = "secret_manager"
  enable_apis                      = false
  notification_emails              = []
  protected_access_codes           = var.protected_access_codes
  lookup_before_delete             = true
  secret_replica_locations         = []
  vpc_connector                    = var.vpc_connector
  vpc_connector_egress_settings    = "ALL_TRAFFIC"
  audit_locked                     = false
  audit_bucket_prevent_destroy     = true
  audit_project                    = var.audit_project
  audit_kms_key_name               = var.audit_kms_key_name
  secret_kms_key_names             = {}
  secret_versions                  = { cec_credentials = "5" }
  firestore_deletable              = false
}
