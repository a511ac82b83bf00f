# The audit trail of deletions (issue 13): the function writes one entry per request
# that deleted routes ("called routes deleted", label audit=cec-called-routes, see
# function/callers/audit.py). Optionally route those entries to storage of their own, kept
# for var.audit_retention_days, so that the record outlives the _Default bucket's
# 30 days and scripts/restore_routes.py can read it back.

locals {
  audit_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.name}\"",
    "labels.audit=\"cec-called-routes\"",
    "jsonPayload.message=\"called routes deleted\"",
  ])
}

# A log bucket in the same project: the sink is authorized to write to it without a grant.
resource "google_logging_project_bucket_config" "audit" {
  count          = var.audit_sink == "log_bucket" ? 1 : 0
  project        = var.project_id
  location       = var.region
  bucket_id      = "${var.name}-audit"
  retention_days = var.audit_retention_days
  description    = "Audit entries of deleted CEC called routes (${var.name})."
  depends_on     = [google_project_service.this]
}

resource "google_logging_project_sink" "audit_bucket" {
  count                  = var.audit_sink == "log_bucket" ? 1 : 0
  project                = var.project_id
  name                   = "${var.name}-audit"
  destination            = "logging.googleapis.com/${google_logging_project_bucket_config.audit[0].id}"
  filter                 = local.audit_filter
  unique_writer_identity = true
}

resource "google_bigquery_dataset" "audit" {
  # checkov:skip=CKV_GCP_81:Holds route configuration (codes, queue ids) and caller names, no personal or payment data; Google-managed encryption is used unless the project mandates CMEK.
  count                           = var.audit_sink == "bigquery" ? 1 : 0
  project                         = var.project_id
  dataset_id                      = replace("${var.name}_audit", "-", "_")
  location                        = var.region
  description                     = "Audit entries of deleted CEC called routes (${var.name})."
  default_partition_expiration_ms = var.audit_retention_days * 86400000
  labels                          = local.labels
  depends_on                      = [google_project_service.this]
}

resource "google_logging_project_sink" "audit_bigquery" {
  count                  = var.audit_sink == "bigquery" ? 1 : 0
  project                = var.project_id
  name                   = "${var.name}-audit"
  destination            = "bigquery.googleapis.com/projects/${var.project_id}/datasets/${google_bigquery_dataset.audit[0].dataset_id}"
  filter                 = local.audit_filter
  unique_writer_identity = true

  bigquery_options {
    use_partitioned_tables = true
  }
}

resource "google_bigquery_dataset_iam_member" "audit_writer" {
  count      = var.audit_sink == "bigquery" ? 1 : 0
  project    = var.project_id
  dataset_id = google_bigquery_dataset.audit[0].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_logging_project_sink.audit_bigquery[0].writer_identity
}
