# The Google APIs this deployment calls, enabled by the deployment itself, so that the
# first apply on a fresh project does not fail on a disabled service. Every resource
# that calls one of them depends on google_project_service.this (directly, or through
# the service accounts and grants the function waits for). infra/gcloud/deploy.sh
# enables the same list (tests/infra compares them).
# enable_apis = false is for projects where an administrator enables APIs: the list
# is then in the `required_apis` output.

locals {
  required_apis = sort(concat(
    [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    local.monitoring ? ["monitoring.googleapis.com"] : [],
    local.scheduled ? ["cloudscheduler.googleapis.com"] : [],
    local.firestore_store ? ["firestore.googleapis.com"] : [],
    var.audit_sink == "bigquery" ? ["bigquery.googleapis.com"] : [],
    var.vpc_connector != null ? ["vpcaccess.googleapis.com"] : [],
  ))
}

resource "google_project_service" "this" {
  for_each = var.enable_apis ? toset(local.required_apis) : toset([])
  project  = var.project_id
  service  = each.value

  # Other workloads of the project may use the same APIs: destroying this deployment
  # leaves them on.
  disable_on_destroy         = false
  disable_dependent_services = false
}
