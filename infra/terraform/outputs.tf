output "uri" {
  description = "HTTPS URI of the function; also the OIDC audience callers must request."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "function_name" {
  description = "Name of the Cloud Function (and of its Cloud Run service)."
  value       = google_cloudfunctions2_function.this.name
}

output "service_account_email" {
  description = "Runtime service account of the function."
  value       = google_service_account.runtime.email
}

output "invoker_service_account_email" {
  description = "Service account the Cloud Scheduler jobs call the function with; null without schedules."
  value       = one(google_service_account.invoker[*].email)
}

output "secret_ids" {
  description = "Secret Manager secrets created for the function (add versions out of band), by purpose."
  value       = { for purpose, secret in google_secret_manager_secret.this : purpose => secret.secret_id }
}

output "scheduler_job_names" {
  description = "Cloud Scheduler job names, by schedule key."
  value       = { for key, job in google_cloud_scheduler_job.this : key => job.name }
}

output "required_apis" {
  description = "The Google APIs this deployment uses (enabled by it unless enable_apis = false)."
  value       = local.required_apis
}

output "alerts_notify" {
  description = "Who the alert policies notify; plan and apply print it."
  value = !local.monitoring ? "no alerts (monitoring off)" : (
    local.notifies_somebody
    ? "alerts notify ${join(", ", concat(var.notification_emails, local.monitoring_settings.notification_channels))}"
    : "NOBODY: the alerts have no notification channel (set notification_emails); incidents only show in the console"
  )
}
