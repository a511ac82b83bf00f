project_id                       = "cec-plan-check"
region                           = "europe-west4"
source_dir                       = "../../../.."
runtime                          = "python313"
invoker_members                  = ["serviceAccount:wf@cec-plan-check.iam.gserviceaccount.com", "group:ops@example.com"]
cec_base_url                     = "https://service.example.com"
cec_token_url                    = "https://service.example.com:28070/apigovernance/api/oauth/tokenByAkSk"
log_level                        = "DEBUG"
request_budget_seconds           = 40
timeout_seconds                  = 120
available_memory                 = "512Mi"
available_cpu                    = "1"
max_instance_request_concurrency = 4
min_instance_count               = 1
max_instance_count               = 5
ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
extra_environment_variables      = { CEC_TIMEOUT_SECONDS = "8", MAX_DNIDS = "5000" }
labels                           = { team = "telephony" }
iam_propagation_seconds          = 90
schedules = {
  nightly = { schedule = "0 3 * * *", time_zone = "Europe/Madrid", dnids = [4001, 4002], description = "Nightly cleanup" }
  weekly  = { schedule = "0 4 * * 1", dnids = [5001] }
}
scheduler_retry = { retry_count = 5, min_backoff_duration = "10s", max_backoff_duration = "300s", max_doublings = 2 }
monitoring = {
  notification_channels  = ["projects/cec-plan-check/notificationChannels/123"]
  alert_window_seconds   = 600
  server_error_threshold = 3
}
plan_tokens              = true
caller_policies          = true
audit_retention_days     = 90
notification_emails      = ["oncall@example.com", "telephony-lead@example.com"]
protected_access_codes   = ["9911411", "99114*"]
secret_replica_locations = ["europe-west4", "europe-west1"]
vpc_connector            = "projects/cec-plan-check/locations/europe-west4/connectors/cec-egress"
audit_project            = "cec-audit-logs"
audit_kms_key_name       = "projects/cec-kms/locations/europe-west4/keyRings/cec/cryptoKeys/audit"
secret_kms_key_names = {
  "europe-west4" = "projects/cec-kms/locations/europe-west4/keyRings/cec/cryptoKeys/secrets"
  "europe-west1" = "projects/cec-kms/locations/europe-west1/keyRings/cec/cryptoKeys/secrets"
}
