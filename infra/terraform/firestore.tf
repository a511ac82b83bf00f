# The shared idempotency store (issue 12): a Firestore database, new or existing,
# when idempotency_store = "firestore". Nothing here exists with the memory store.
#
# - By default the database is the function's own, named like it (var.name) and
#   created here, so the runtime account's grant reaches no other application's data.
#   It has delete protection, and deletion_policy ABANDON: `terraform destroy` removes
#   it from the state and leaves it (and its records) in place. firestore_deletable =
#   true turns both off, for throwaway projects.
#
# - TTL policy on expires_at: Firestore deletes expired records itself, "typically
#   within 24 hours after its expiration date"
#   (https://cloud.google.com/firestore/docs/ttl); the function treats an expired
#   record as absent meanwhile.
# - roles/datastore.user is the narrowest predefined role with the document
#   create/get/update/delete the store uses
#   (https://cloud.google.com/firestore/docs/security/iam). It is granted on the
#   project with an IAM condition on the database's resource name (Firestore has no
#   database-level IAM resource), so the runtime account reaches this database only,
#   not the project's others.

locals {
  firestore_store         = var.idempotency_store == "firestore"
  firestore_database      = coalesce(var.firestore_database_name, var.name)
  firestore_database_path = "projects/${var.project_id}/databases/${local.firestore_database}"
  firestore_create        = var.create_firestore_database == null ? var.firestore_database_name == null : var.create_firestore_database
}

resource "google_firestore_database" "idempotency" {
  count = local.firestore_store && local.firestore_create ? 1 : 0

  project                 = var.project_id
  name                    = local.firestore_database
  location_id             = coalesce(var.firestore_location, var.region)
  type                    = "FIRESTORE_NATIVE"
  deletion_policy         = var.firestore_deletable ? "DELETE" : "ABANDON"
  delete_protection_state = var.firestore_deletable ? "DELETE_PROTECTION_DISABLED" : "DELETE_PROTECTION_ENABLED"
  depends_on              = [google_project_service.this]
}

resource "google_firestore_field" "idempotency_ttl" {
  count = local.firestore_store ? 1 : 0

  project    = var.project_id
  database   = local.firestore_database
  collection = var.idempotency_collection
  field      = "expires_at"

  ttl_config {}
  # Nothing queries the store: no single-field index on the expiry is needed.
  index_config {}

  depends_on = [google_firestore_database.idempotency, google_project_service.this]
}

resource "google_project_iam_member" "runtime_firestore" {
  count = local.firestore_store ? 1 : 0

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime.email}"

  # The database's own name, and anything under it: should a document operation be
  # checked against the document's name (projects/P/databases/D/documents/...) rather
  # than the database's, the grant still holds, and still for this database only.
  condition {
    title       = "${var.name}-idempotency-database-only"
    description = "The idempotency store's database, no other."
    expression  = "resource.name == \"${local.firestore_database_path}\" || resource.name.startsWith(\"${local.firestore_database_path}/\")"
  }
}
