locals {
  function_uri = google_cloudfunctions2_function.this.service_config[0].uri

  # Cloud Scheduler must wait longer than the function may run, or it records a
  # failure (and retries) while the function is still deleting. HTTP targets
  # accept 15 s to 30 min, so with schedules timeout_seconds is at most 1785
  # (validated in variables.tf).
  attempt_deadline = "${var.timeout_seconds + 15}s"
}

resource "google_cloud_scheduler_job" "this" {
  for_each         = var.schedules
  project          = var.project_id
  region           = var.region
  name             = "${var.name}-${each.key}"
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = each.value.time_zone
  attempt_deadline = local.attempt_deadline

  # Scheduler retries any non-2xx answer. Deleting is convergent, so a retry
  # after a 503/504 (or a 207 left for the next run) is harmless.
  retry_config {
    retry_count          = var.scheduler_retry.retry_count
    min_backoff_duration = var.scheduler_retry.min_backoff_duration
    max_backoff_duration = var.scheduler_retry.max_backoff_duration
    max_doublings        = var.scheduler_retry.max_doublings
  }

  http_target {
    http_method = "POST"
    uri         = local.function_uri
    body        = base64encode(jsonencode({ dnids = each.value.dnids }))
    headers = {
      "Content-Type" = "application/json"
    }

    # Cloud Run accepts an ID token only if its audience is the service URI.
    oidc_token {
      service_account_email = google_service_account.invoker[0].email
      audience              = local.function_uri
    }
  }

  depends_on = [google_cloud_run_service_iam_member.scheduler_invoker]
}
