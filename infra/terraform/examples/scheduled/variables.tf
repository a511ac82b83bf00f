# The module variables this root passes on, declared as the module declares them
# (infra/terraform/variables.tf validates them). Defaults are the module's, except
# ingress_settings = "ALLOW_INTERNAL_ONLY": its only caller, Cloud Scheduler, is internal.

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the function, its source bucket, image repository and scheduler jobs."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Function name; also the prefix of the service accounts, secrets, bucket and jobs."
  type        = string
  default     = "cec-called-routes"
}

variable "cec_base_url" {
  description = "Base URL of the tenant's CEC API (CEC_BASE_URL), e.g. https://service.besclouds.com."
  type        = string
}

variable "cec_token_url" {
  description = "tokenByAkSk URL (CEC_TOKEN_URL); null derives it from cec_base_url."
  type        = string
  default     = null
}

variable "caller_auth" {
  description = "CALLER_AUTH methods the function accepts: any of iam, webhook, api_key. \"none\" is for local runs and cannot be deployed."
  type        = list(string)
  default     = ["iam"]
}

variable "invoker_members" {
  description = "Extra principals granted roles/run.invoker on this function only, e.g. \"serviceAccount:wf@p.iam.gserviceaccount.com\"."
  type        = list(string)
  default     = []
}

variable "schedules" {
  description = "Cloud Scheduler jobs: name => { schedule (cron), time_zone, dnids }."
  type = map(object({
    schedule    = string
    time_zone   = optional(string, "Etc/UTC")
    dnids       = list(number)
    description = optional(string, "Deletes CEC called routes")
  }))
  default = {}
}

variable "scheduler_retry" {
  description = "Retry policy of the scheduler jobs; any non-2xx answer (and a timeout) is retried."
  type = object({
    retry_count          = optional(number, 3)
    min_backoff_duration = optional(string, "30s")
    max_backoff_duration = optional(string, "600s")
    max_doublings        = optional(number, 3)
  })
  default = {}
}

variable "monitoring" {
  description = "Log-based metrics from the function's summary line, alert policies (upstream_auth_failed, 5xx, unfinished deletions) and a dashboard. null: on when schedules exist, off otherwise; { enabled = false } turns them off. notification_channels are ids like projects/P/notificationChannels/N (see also notification_emails)."
  type = object({
    enabled                = optional(bool, true)
    notification_channels  = optional(list(string), [])
    alert_window_seconds   = optional(number, 300)
    server_error_threshold = optional(number, 0)
  })
  default = null
}

variable "notification_emails" {
  description = "E-mail addresses the alerts notify: each becomes an e-mail notification channel. With none (and no monitoring.notification_channels) the alerts notify nobody: incidents only show in the console."
  type        = list(string)
  default     = []
}

variable "enable_apis" {
  description = "Enable the Google APIs the deployment uses (google_project_service, never disabled on destroy). false where an administrator enables APIs: the list is in the required_apis output."
  type        = bool
  default     = true
}

variable "idempotency_store" {
  description = "Where idempotency keys live: memory (per instance) or firestore (shared by every instance)."
  type        = string
  default     = "memory"
}

variable "create_firestore_database" {
  description = "With the firestore store: create the database (true) or use an existing one named firestore_database_name (false). null: create it when firestore_database_name is null."
  type        = bool
  default     = null
}

variable "firestore_database_name" {
  description = "Firestore database of the idempotency store: null for a database of the function's own (named like the function); (default) or another existing database to share it."
  type        = string
  default     = null
}

variable "firestore_location" {
  description = "Location of a database created here; defaults to the function's region."
  type        = string
  default     = null
}

variable "idempotency_on_store_error" {
  description = "The store unreachable: fail (a retryable 503 idempotency_unavailable) or proceed (run without it)."
  type        = string
  default     = "fail"
}

variable "audit_sink" {
  description = "Route the function's audit entries (one per request that deleted routes) to \"log_bucket\" (a log bucket of their own), \"bigquery\" (a dataset), or \"none\" (they stay in _Default, 30 days)."
  type        = string
  default     = "log_bucket"
}

variable "audit_retention_days" {
  description = "How long the audit entries are kept in the audit log bucket or BigQuery partitions, in days."
  type        = number
  default     = 400
}

variable "plan_tokens" {
  description = "Create the secret <name>-plan-signing-keys (add a comma list of keys of 32+ characters as its version) and sign dry runs' plan tokens with it."
  type        = bool
  default     = false
}

variable "caller_policies" {
  description = "Create the secret <name>-caller-policies (add the CALLER_POLICIES JSON as its version) and enforce it."
  type        = bool
  default     = false
}

variable "protected_access_codes" {
  description = "PROTECTED_ACCESS_CODES: hotline access codes (or patterns) the function never deletes, whoever asks."
  type        = list(string)
  default     = []
}

variable "lookup_before_delete" {
  description = "CEC_LOOKUP_BEFORE_DELETE: read each route's full record before deleting it (the audit entry that makes undo possible). true by default; false saves the lookups and gives up the undo record."
  type        = bool
  default     = true
}

variable "secrets_source" {
  description = "How the function reads the secrets it needs at request time (the CEC AK/SK, and the API keys, plan-signing keys and caller policies when enabled): \"volume\" mounts each as a file (*_FILE; Cloud Run fetches latest on each read, no client library on the cold path), \"secret_manager\" reads each with google-cloud-secret-manager (*_SECRET). WEBHOOK_SECRET is a secret environment variable either way."
  type        = string
  default     = "volume"
}

variable "secret_replica_locations" {
  description = "Locations of the secrets' user-managed replicas, e.g. [\"europe-west1\"]; empty for automatic replication (refused where an organisation policy restricts resource locations)."
  type        = list(string)
  default     = []
}

variable "max_instance_count" {
  description = "Upper bound on instances; caps the load this function can put on the CEC API."
  type        = number
  default     = 3
}

variable "available_memory" {
  description = "Memory of one instance, e.g. 256Mi."
  type        = string
  default     = "256Mi"
}

variable "ingress_settings" {
  description = "ALLOW_INTERNAL_ONLY (default here: Cloud Scheduler in the same project, calling the run.app URL, is internal traffic), ALLOW_INTERNAL_AND_GCLB, or ALLOW_ALL for invoker_members calling from the internet."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector the function's outbound traffic goes through (projects/P/locations/R/connectors/C), e.g. towards a Cloud NAT with a static address the CEC tenant allow-lists; null for none."
  type        = string
  default     = null
}

variable "vpc_connector_egress_settings" {
  description = "With vpc_connector: ALL_TRAFFIC (every call, the CEC API included, leaves through the connector: needed for a static address) or PRIVATE_RANGES_ONLY."
  type        = string
  default     = "ALL_TRAFFIC"
}

variable "request_budget_seconds" {
  description = "REQUEST_BUDGET_SECONDS: time one request may spend on upstream calls and retries."
  type        = number
  default     = 25
}

variable "timeout_seconds" {
  description = "Function timeout; must leave room above request_budget_seconds to answer."
  type        = number
  default     = 60
}

variable "labels" {
  description = "Labels on every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "audit_locked" {
  description = "Lock the audit log bucket: nobody can change its retention, and it cannot be deleted while it holds entries (each kept audit_retention_days). Irreversible. Needs audit_sink = \"log_bucket\"."
  type        = bool
  default     = false
}

variable "audit_bucket_prevent_destroy" {
  description = "Protect the audit log bucket from terraform destroy (lifecycle prevent_destroy: a destroy that would delete it fails). false for throwaway projects."
  type        = bool
  default     = true
}

variable "audit_project" {
  description = "Project of the audit log bucket or dataset (a separate logging project); null for the function's project."
  type        = string
  default     = null
}

variable "audit_kms_key_name" {
  description = "Customer-managed Cloud KMS key of the audit log bucket or dataset; null for Google-managed encryption."
  type        = string
  default     = null
}

variable "secret_kms_key_names" {
  description = "Customer-managed Cloud KMS keys of the secrets, by replica location (one per entry of secret_replica_locations)."
  type        = map(string)
  default     = {}
}

variable "secret_versions" {
  description = "Versions the function reads, by secret (cec_credentials, api_keys, webhook, plan_signing_keys, caller_policies): a number or \"latest\" (the default). Pin webhook: WEBHOOK_SECRET is an environment variable."
  type        = map(string)
  default     = {}
}

variable "firestore_deletable" {
  description = "Let terraform destroy delete a database created here; false: delete protection on, and a destroy leaves it in place."
  type        = bool
  default     = false
}
