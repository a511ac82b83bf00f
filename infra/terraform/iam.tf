# Three identities, each with only what its job needs:
#   runtime - the function itself: reads its own secrets, nothing else;
#   build   - Cloud Build for this function: reads the source, pushes the image, logs;
#   invoker - Cloud Scheduler: may call this one function (only with schedules).

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.name}-fn"
  display_name = "${var.name} function runtime"
  description  = "Runs the ${var.name} function; may read only its own secrets."
  depends_on   = [google_project_service.this]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name}-build"
  display_name = "${var.name} function build"
  description  = "Builds the ${var.name} function image instead of a broad default build account."
  depends_on   = [google_project_service.this]
}

resource "google_service_account" "invoker" {
  # Nothing else uses it: without schedules it would be an idle identity.
  count        = local.scheduled ? 1 : 0
  project      = var.project_id
  account_id   = "${var.name}-inv"
  display_name = "${var.name} invoker"
  description  = "Identity of the Cloud Scheduler jobs that call ${var.name}."
  depends_on   = [google_project_service.this]
}

# The project number names the bucket Cloud Functions copies the source into.
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  scheduled = length(var.schedules) > 0

  # Gen2 copies storage_source into this Google-created bucket, and Cloud Build
  # fetches it from there as the build account (hashicorp/terraform-provider-google#20571:
  # "Access to bucket gcf-v2-sources-<number>-<region> denied. You must grant Storage
  # Object Viewer permission to <build account>"). The bucket appears only on the
  # first deployment, so the grant is project-level, narrowed by an IAM condition on
  # the resource name (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name:
  # projects/_/buckets/BUCKET, projects/_/buckets/BUCKET/objects/OBJECT).
  gcf_sources_bucket = "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
}

# Granted per secret, never project-wide: iterating over the secrets themselves
# means a secret the function reads cannot exist without its binding.
resource "google_secret_manager_secret_iam_member" "runtime_access" {
  for_each  = google_secret_manager_secret.this
  project   = var.project_id
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# Build logs have no narrower scope than the project.
resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_artifact_registry_repository_iam_member" "build_push" {
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

resource "google_project_iam_member" "build_gcf_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "gcf-v2-sources-${var.region}"
    description = "Only the bucket Cloud Functions copies this region's sources into."
    expression  = "resource.name == \"projects/_/buckets/${local.gcf_sources_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${local.gcf_sources_bucket}/\")"
  }
}

# IAM changes take up to minutes to reach every service; a deployment started at
# once can fail at random on the first apply. The provider's own
# cloudfunctions2_basic_builder example waits the same way before the function.
resource "time_sleep" "iam_propagation" {
  create_duration = "${var.iam_propagation_seconds}s"

  # A new build or runtime account (or region) gets new grants: wait again.
  triggers = {
    build   = google_service_account.build.email
    runtime = google_service_account.runtime.email
    region  = var.region
  }

  depends_on = [
    google_secret_manager_secret_iam_member.runtime_access,
    google_project_iam_member.runtime_firestore,
    google_project_iam_member.build_logs,
    google_project_iam_member.build_gcf_sources,
    google_artifact_registry_repository_iam_member.build_push,
    google_storage_bucket_iam_member.build_source,
  ]
}

# Invocation is granted on this function's Cloud Run service only. A replaced
# function is a new Cloud Run service without these bindings: replace_triggered_by
# recreates them in the same apply (the function's id is unknown exactly then).
resource "google_cloud_run_service_iam_member" "scheduler_invoker" {
  count    = local.scheduled ? 1 : 0
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker[0].email}"

  lifecycle {
    replace_triggered_by = [google_cloudfunctions2_function.this.id]
  }
}

resource "google_cloud_run_service_iam_member" "invokers" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value

  lifecycle {
    replace_triggered_by = [google_cloudfunctions2_function.this.id]
  }
}

resource "google_cloud_run_service_iam_member" "public" {
  # checkov:skip=CKV_GCP_102:Only exists with public_access = true, which variables.tf allows only when the function itself authenticates every request (webhook signature or API key, never iam).
  count    = var.public_access ? 1 : 0
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"

  lifecycle {
    replace_triggered_by = [google_cloudfunctions2_function.this.id]
  }
}
