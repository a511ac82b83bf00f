# Example root: a private function that Cloud Scheduler calls with its own identity
# (caller_auth "iam"), deleting the called routes of the DNIDs each schedule names.
# Alerts on unfinished deletions are on (schedules turn monitoring on); the audit
# entries go to a log bucket of their own. Copy terraform.tfvars.example to
# terraform.tfvars and edit it.

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

module "called_routes" {
  source = "../.."

  project_id                    = var.project_id
  region                        = var.region
  name                          = var.name
  cec_base_url                  = var.cec_base_url
  cec_token_url                 = var.cec_token_url
  caller_auth                   = var.caller_auth
  invoker_members               = var.invoker_members
  schedules                     = var.schedules
  scheduler_retry               = var.scheduler_retry
  monitoring                    = var.monitoring
  notification_emails           = var.notification_emails
  enable_apis                   = var.enable_apis
  idempotency_store             = var.idempotency_store
  create_firestore_database     = var.create_firestore_database
  firestore_database_name       = var.firestore_database_name
  firestore_location            = var.firestore_location
  idempotency_on_store_error    = var.idempotency_on_store_error
  audit_sink                    = var.audit_sink
  audit_retention_days          = var.audit_retention_days
  plan_tokens                   = var.plan_tokens
  caller_policies               = var.caller_policies
  protected_access_codes        = var.protected_access_codes
  lookup_before_delete          = var.lookup_before_delete
  secrets_source                = var.secrets_source
  secret_replica_locations      = var.secret_replica_locations
  max_instance_count            = var.max_instance_count
  available_memory              = var.available_memory
  ingress_settings              = var.ingress_settings
  vpc_connector                 = var.vpc_connector
  vpc_connector_egress_settings = var.vpc_connector_egress_settings
  request_budget_seconds        = var.request_budget_seconds
  timeout_seconds               = var.timeout_seconds
  labels                        = var.labels
  audit_locked                  = var.audit_locked
  audit_bucket_prevent_destroy  = var.audit_bucket_prevent_destroy
  audit_project                 = var.audit_project
  audit_kms_key_name            = var.audit_kms_key_name
  secret_kms_key_names          = var.secret_kms_key_names
  secret_versions               = var.secret_versions
  firestore_deletable           = var.firestore_deletable
}
