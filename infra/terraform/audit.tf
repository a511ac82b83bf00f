# The audit trail of deletions (issue 13): the function writes one entry per request
# that deleted routes ("called routes deleted", label audit=cec-called-routes, see
# function/callers/audit.py) on its stdout log. By default those entries are routed to a
# log bucket of their own, kept for var.audit_retention_days, so that the record outlives
# the _Default bucket's 30 days and scripts/restore_routes.py can read it back.
#
# Evidence, not just a copy:
# - audit_locked locks the bucket: nobody (owners included) can change its retention,
#   and it "may only be deleted if empty", i.e. once every entry has aged out; irreversible
#   (https://cloud.google.com/logging/docs/reference/v2/rest/v2/locations.buckets).
# - The bucket is protected from `terraform destroy` by default: the `audit` resource
#   has lifecycle prevent_destroy, a meta-argument that cannot depend
#   on a variable, hence two resources. A destroy plan that would delete it fails
#   ("Instance cannot be destroyed") and nothing is destroyed; remove it from the state
#   first (`terraform state rm`) to tear the rest down and keep the bucket.
#   audit_bucket_prevent_destroy = false (throwaway projects) uses `audit_deletable`
#   instead, which a destroy deletes (Cloud Logging keeps a deleted bucket restorable
#   for 7 days; a locked bucket cannot be deleted while it holds entries).
# - audit_project puts the bucket (or dataset) in a logging project of its own, where
#   the function's project owners need hold no role.
# - audit_kms_key_name encrypts the bucket (cmek_settings) or the dataset with a
#   customer-managed key.
# - The filter names the log as well as the label: only entries on the Cloud Run
#   stdout log of this service. Anyone with logging.logEntries.create can still write
#   to that log name; records are signed (docs/AUDIT_AND_UNDO.md) so that the restore
#   refuses a forged one.

locals {
  audit_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.name}\"",
    "logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Fstdout\"",
    "labels.audit=\"cec-called-routes\"",
    "jsonPayload.message=\"called routes deleted\"",
  ])
  audit_project    = coalesce(var.audit_project, var.project_id)
  audit_bucket     = var.audit_sink == "log_bucket"
  audit_bucket_id  = "${var.name}-audit"
  audit_bucket_ref = "projects/${local.audit_project}/locations/${var.region}/buckets/${local.audit_bucket_id}"
  # Another project's bucket needs a grant to the sink's writer identity.
  audit_elsewhere = local.audit_project != var.project_id
}

resource "google_logging_project_bucket_config" "audit" {
  count          = local.audit_bucket && var.audit_bucket_prevent_destroy ? 1 : 0
  project        = local.audit_project
  location       = var.region
  bucket_id      = local.audit_bucket_id
  retention_days = var.audit_retention_days
  locked         = var.audit_locked
  description    = "Audit entries of deleted CEC called routes (${var.name})."
  depends_on     = [google_project_service.this]

  dynamic "cmek_settings" {
    for_each = var.audit_kms_key_name != null ? [1] : []
    content {
      kms_key_name = var.audit_kms_key_name
    }
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_logging_project_bucket_config" "audit_deletable" {
  count          = local.audit_bucket && !var.audit_bucket_prevent_destroy ? 1 : 0
  project        = local.audit_project
  location       = var.region
  bucket_id      = local.audit_bucket_id
  retention_days = var.audit_retention_days
  locked         = var.audit_locked
  description    = "Audit entries of deleted CEC called routes (${var.name})."
  depends_on     = [google_project_service.this]

  dynamic "cmek_settings" {
    for_each = var.audit_kms_key_name != null ? [1] : []
    content {
      kms_key_name = var.audit_kms_key_name
    }
  }
}

resource "google_logging_project_sink" "audit_bucket" {
  count                  = local.audit_bucket ? 1 : 0
  project                = var.project_id
  name                   = "${var.name}-audit"
  destination            = "logging.googleapis.com/${one(concat(google_logging_project_bucket_config.audit[*].id, google_logging_project_bucket_config.audit_deletable[*].id))}"
  filter                 = local.audit_filter
  unique_writer_identity = true
}

# A sink to another project's bucket writes as its own identity, which needs
# roles/logging.bucketWriter there, on this bucket only
# (https://cloud.google.com/logging/docs/export/configure_export_v2#dest-auth).
resource "google_project_iam_member" "audit_bucket_writer" {
  count   = local.audit_bucket && local.audit_elsewhere ? 1 : 0
  project = local.audit_project
  role    = "roles/logging.bucketWriter"
  member  = google_logging_project_sink.audit_bucket[0].writer_identity

  condition {
    title       = "${var.name}-audit-bucket-only"
    description = "The audit log bucket of ${var.name}, no other."
    expression  = "resource.name.endsWith(\"locations/${var.region}/buckets/${local.audit_bucket_id}\")"
  }
}

resource "google_bigquery_dataset" "audit" {
  # checkov:skip=CKV_GCP_81:Holds route configuration (codes, queue ids) and caller names, no personal or payment data; set audit_kms_key_name where the organisation mandates a customer-managed key.
  count                           = var.audit_sink == "bigquery" ? 1 : 0
  project                         = local.audit_project
  dataset_id                      = replace("${var.name}_audit", "-", "_")
  location                        = var.region
  description                     = "Audit entries of deleted CEC called routes (${var.name})."
  default_partition_expiration_ms = var.audit_retention_days * 86400000
  # A destroy refuses a dataset that holds tables, which the sink creates.
  delete_contents_on_destroy = false
  labels                     = local.labels
  depends_on                 = [google_project_service.this]

  dynamic "default_encryption_configuration" {
    for_each = var.audit_kms_key_name != null ? [1] : []
    content {
      kms_key_name = var.audit_kms_key_name
    }
  }
}

resource "google_logging_project_sink" "audit_bigquery" {
  count                  = var.audit_sink == "bigquery" ? 1 : 0
  project                = var.project_id
  name                   = "${var.name}-audit"
  destination            = "bigquery.googleapis.com/projects/${local.audit_project}/datasets/${google_bigquery_dataset.audit[0].dataset_id}"
  filter                 = local.audit_filter
  unique_writer_identity = true

  bigquery_options {
    use_partitioned_tables = true
  }
}

resource "google_bigquery_dataset_iam_member" "audit_writer" {
  count      = var.audit_sink == "bigquery" ? 1 : 0
  project    = local.audit_project
  dataset_id = google_bigquery_dataset.audit[0].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_logging_project_sink.audit_bigquery[0].writer_identity
}
