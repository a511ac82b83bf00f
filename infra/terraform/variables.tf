variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID (6-30 lowercase letters, digits, hyphens)."
  }
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

  validation {
    # Service account IDs are "<name>-build" and must stay within 30 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "source_dir" {
  description = "Repository root holding main.py, requirements.txt and function/. Defaults to two levels above this module."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Cloud Functions Python runtime."
  type        = string
  default     = "python312"

  validation {
    # The versions the test suite runs on (scripts/test.sh's matrix) and Cloud
    # Functions offers; widen this only together with that matrix.
    condition     = contains(["python311", "python312", "python313"], var.runtime)
    error_message = "runtime must be python311, python312 or python313."
  }
}

variable "caller_auth" {
  description = "CALLER_AUTH methods the function accepts: any of iam, webhook, api_key. \"none\" is for local runs and cannot be deployed."
  type        = list(string)
  default     = ["iam"]

  validation {
    condition     = length(var.caller_auth) > 0 && alltrue([for m in var.caller_auth : contains(["iam", "webhook", "api_key"], m)])
    error_message = "caller_auth must list one or more of iam, webhook, api_key (\"none\" is never deployed)."
  }
}

variable "public_access" {
  description = "Grant roles/run.invoker to allUsers so SaaS tools without Google identity can call. Needs caller_auth of webhook and/or api_key only. Refused at apply in organisations enforcing Domain Restricted Sharing (iam.allowedPolicyMemberDomains): see infra/README.md."
  type        = bool
  default     = false

  validation {
    # The function trusts Cloud Run for "iam": with allUsers as invoker that would
    # accept anyone, so a public function must authenticate every request itself.
    condition = !var.public_access || (
      !contains(var.caller_auth, "iam") &&
      length(setintersection(var.caller_auth, ["webhook", "api_key"])) > 0
    )
    error_message = "public_access = true needs caller_auth to contain webhook and/or api_key and not iam."
  }
}

variable "invoker_members" {
  description = "Extra principals granted roles/run.invoker on this function only, e.g. \"serviceAccount:wf@p.iam.gserviceaccount.com\"."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(user|serviceAccount|group|principal|principalSet):", m))])
    error_message = "invoker_members must be IAM members such as serviceAccount:..., user:..., group:...; use public_access for allUsers."
  }
}

variable "cec_base_url" {
  description = "Base URL of the tenant's CEC API (CEC_BASE_URL), e.g. https://service.besclouds.com."
  type        = string

  validation {
    condition     = can(regex("^https://[^\\s/]+(/\\S*)?$", var.cec_base_url))
    error_message = "cec_base_url must be an https:// URL."
  }
}

variable "cec_token_url" {
  description = "tokenByAkSk URL (CEC_TOKEN_URL); null derives it from cec_base_url."
  type        = string
  default     = null

  validation {
    condition     = var.cec_token_url == null || can(regex("^https://[^\\s/]+(/\\S*)?$", var.cec_token_url))
    error_message = "cec_token_url must be an https:// URL or null."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "request_budget_seconds" {
  description = "REQUEST_BUDGET_SECONDS: time one request may spend on upstream calls and retries."
  type        = number
  default     = 25

  validation {
    condition     = var.request_budget_seconds > 0 && var.request_budget_seconds <= 3000
    error_message = "request_budget_seconds must be in (0, 3000]."
  }
}

variable "timeout_seconds" {
  description = "Function timeout; must leave room above request_budget_seconds to answer."
  type        = number
  default     = 60

  validation {
    # The function must be able to answer (207/504 with details) before the
    # platform kills the request, so the platform timeout sits above the budget.
    condition     = var.timeout_seconds >= var.request_budget_seconds + 5 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be at least request_budget_seconds + 5 and at most 3600."
  }

  validation {
    # Scheduler's attempt_deadline is timeout_seconds + 15 and must be at most
    # 30 min (HTTP targets accept 15 s to 30 min).
    condition     = length(var.schedules) == 0 || var.timeout_seconds + 15 <= 1800
    error_message = "with schedules, timeout_seconds must be at most 1785 (Cloud Scheduler waits at most 30 minutes)."
  }
}

variable "available_memory" {
  description = "Memory of one instance, e.g. 256Mi."
  type        = string
  default     = "256Mi"
}

variable "available_cpu" {
  description = "vCPUs of one instance; null lets Cloud Functions derive it from memory. Concurrency above 1 needs at least 1."
  type        = string
  default     = null
}

variable "max_instance_request_concurrency" {
  description = "Concurrent requests one instance serves."
  type        = number
  default     = 1

  validation {
    condition = var.max_instance_request_concurrency >= 1 && var.max_instance_request_concurrency <= 1000 && (
      var.max_instance_request_concurrency == 1 || try(tonumber(var.available_cpu) >= 1, false)
    )
    error_message = "max_instance_request_concurrency must be 1-1000, and above 1 only with available_cpu >= 1."
  }
}

variable "min_instance_count" {
  description = "Instances kept warm (0 keeps cost at zero when idle)."
  type        = number
  default     = 0
}

variable "max_instance_count" {
  description = "Upper bound on instances; caps the load this function can put on the CEC API."
  type        = number
  default     = 3

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 100
    error_message = "max_instance_count must be 1-100."
  }
}

variable "ingress_settings" {
  description = "ALLOW_ALL (callers on the internet, authenticated by IAM/webhook/API key), ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress_settings)
    error_message = "ingress_settings must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "extra_environment_variables" {
  description = "Tuning variables read by the function (e.g. CEC_TIMEOUT_SECONDS, MAX_DNIDS). Never secrets: those go to Secret Manager."
  type        = map(string)
  default     = {}

  validation {
    # Plain-text credentials would land in Terraform state and in the function's
    # configuration; the module-managed ones would be silently overridden.
    condition = length(setintersection(keys(var.extra_environment_variables), [
      "CEC_APP_KEY", "CEC_APP_SECRET", "API_KEYS", "WEBHOOK_SECRET",
      "CALLER_AUTH", "CEC_BASE_URL", "CEC_TOKEN_URL", "CEC_CREDENTIALS_SECRET", "API_KEYS_SECRET",
      "REQUEST_BUDGET_SECONDS", "GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "LOG_LEVEL", "SECRET_MANAGER_ENDPOINT",
      "PLAN_SIGNING_KEYS", "PLAN_SIGNING_KEYS_SECRET", "CALLER_POLICIES_SECRET", "AUDIT_SIGNING_KEYS",
      "PROTECTED_ACCESS_CODES", "CEC_LOOKUP_BEFORE_DELETE", "IAM_ALLOWED_PRINCIPALS", "IAM_AUDIENCES",
    ])) == 0
    error_message = "extra_environment_variables must not set secrets (CEC_APP_KEY, CEC_APP_SECRET, API_KEYS, WEBHOOK_SECRET, PLAN_SIGNING_KEYS) or variables this module manages."
  }
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

  validation {
    condition     = alltrue([for k, s in var.schedules : can(regex("^[a-z0-9-]{1,30}$", k)) && length(s.dnids) > 0])
    error_message = "schedule keys must be 1-30 lowercase letters, digits or hyphens, and each needs at least one dnid."
  }

  validation {
    # Cloud Scheduler authenticates with an OIDC token only; without "iam" in
    # caller_auth (or on a public function) every run would get 401.
    condition     = length(var.schedules) == 0 || (contains(var.caller_auth, "iam") && !var.public_access)
    error_message = "schedules need caller_auth to contain iam and public_access = false."
  }
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

  validation {
    condition     = var.scheduler_retry.retry_count >= 0 && var.scheduler_retry.retry_count <= 5
    error_message = "scheduler_retry.retry_count must be 0-5."
  }
}

variable "labels" {
  description = "Labels on every resource that takes them."
  type        = map(string)
  default     = {}
}

# Safeguards (issue 13): plan tokens, caller policies, and the audit trail.
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

variable "audit_sink" {
  description = "Route the function's audit entries (one per request that deleted routes) to \"log_bucket\" (a log bucket of their own, the default), \"bigquery\" (a dataset), or \"none\" (they stay in _Default, 30 days, erasable)."
  type        = string
  default     = "log_bucket"

  validation {
    condition     = contains(["none", "log_bucket", "bigquery"], var.audit_sink)
    error_message = "audit_sink must be none, log_bucket or bigquery."
  }
}

variable "audit_retention_days" {
  description = "How long the audit entries are kept in the audit log bucket or BigQuery partitions, in days."
  type        = number
  default     = 400

  validation {
    condition     = var.audit_retention_days >= 1 && var.audit_retention_days <= 3650
    error_message = "audit_retention_days must be 1-3650 (the log bucket limit)."
  }
}

variable "audit_locked" {
  description = "Lock the audit log bucket: nobody can change its retention, and it cannot be deleted while it holds entries (each kept audit_retention_days). Irreversible. Needs audit_sink = \"log_bucket\"."
  type        = bool
  default     = false

  validation {
    condition     = !var.audit_locked || var.audit_sink == "log_bucket"
    error_message = "audit_locked needs audit_sink = \"log_bucket\"."
  }
}

variable "audit_bucket_prevent_destroy" {
  description = "Protect the audit log bucket from terraform destroy (lifecycle prevent_destroy: a destroy that would delete it fails). false for throwaway projects."
  type        = bool
  default     = true
}

variable "audit_project" {
  description = "Project of the audit log bucket or dataset (a separate logging project); null for the function's project. The sink stays in the function's project; its writer identity gets roles/logging.bucketWriter there, on the bucket only."
  type        = string
  default     = null

  validation {
    condition     = var.audit_project == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.audit_project))
    error_message = "audit_project must be a Google Cloud project ID or null."
  }
}

variable "audit_kms_key_name" {
  description = "Customer-managed Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) of the audit log bucket or dataset, in their location; null for Google-managed encryption. Cloud Logging's (or BigQuery's) service account needs roles/cloudkms.cryptoKeyEncrypterDecrypter on it."
  type        = string
  default     = null

  validation {
    condition     = var.audit_kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.audit_kms_key_name))
    error_message = "audit_kms_key_name must be projects/P/locations/L/keyRings/R/cryptoKeys/K or null."
  }
}

# --- Idempotency store (issue 12) ------------------------------------------------

variable "idempotency_store" {
  description = "Where idempotency keys live: memory (per instance) or firestore (shared by every instance)."
  type        = string
  default     = "memory"

  validation {
    condition     = contains(["memory", "firestore"], var.idempotency_store)
    error_message = "idempotency_store must be memory or firestore."
  }
}

variable "create_firestore_database" {
  description = "With the firestore store: create the database (true) or use an existing one named firestore_database_name (false). null: create it when firestore_database_name is null (the function's own database), else use the existing one."
  type        = bool
  default     = null
}

variable "firestore_database_name" {
  description = "Firestore database of the idempotency store: null for a database of the function's own, named like the function (var.name); (default) or another existing database's name to share it."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_database_name == null || can(regex("^(\\(default\\)|[a-z][a-z0-9-]{2,62})$", var.firestore_database_name))
    error_message = "firestore_database_name must be null, (default) or 3-63 lowercase letters, digits and hyphens."
  }
}

variable "firestore_deletable" {
  description = "Let terraform destroy delete a database created here (deletion_policy DELETE, delete protection off). false (default): the database has delete protection and a destroy leaves it in place (ABANDON)."
  type        = bool
  default     = false
}

variable "firestore_location" {
  description = "Location of a database created here; defaults to the function's region."
  type        = string
  default     = null
}

variable "idempotency_collection" {
  description = "Collection of the idempotency records."
  type        = string
  default     = "cec-delete-called-route-idempotency"
}

variable "idempotency_on_store_error" {
  description = "The store unreachable: fail (a retryable 503 idempotency_unavailable) or proceed (run without it)."
  type        = string
  default     = "fail"

  validation {
    condition     = contains(["fail", "proceed"], var.idempotency_on_store_error)
    error_message = "idempotency_on_store_error must be fail or proceed."
  }
}

# --- Cold path: how the secrets read at request time are read (issue 14) -------

variable "secrets_source" {
  description = "How the function reads the secrets it needs at request time (the CEC AK/SK, and the API keys, plan-signing keys and caller policies when enabled): \"volume\" mounts each as a file (*_FILE; Cloud Run fetches latest on each read, no client library on the cold path), \"secret_manager\" reads each with google-cloud-secret-manager (*_SECRET). WEBHOOK_SECRET is a secret environment variable either way."
  type        = string
  default     = "volume"

  validation {
    condition     = contains(["volume", "secret_manager"], var.secrets_source)
    error_message = "secrets_source must be \"volume\" or \"secret_manager\"."
  }
}

# --- Deployment pacing (issue 11) -----------------------------------------------

variable "iam_propagation_seconds" {
  description = "Seconds to wait after the IAM grants before deploying the function (IAM changes take time to propagate)."
  type        = number
  default     = 60

  validation {
    condition     = var.iam_propagation_seconds >= 0 && var.iam_propagation_seconds <= 600
    error_message = "iam_propagation_seconds must be 0-600."
  }
}

# --- Monitoring (issue 11) ------------------------------------------------------

variable "monitoring" {
  description = "Log-based metrics from the function's summary line, alert policies (upstream_auth_failed, 5xx, unfinished deletions) and a dashboard. null: on when schedules exist, off otherwise; { enabled = false } turns them off. notification_channels are ids like projects/P/notificationChannels/N (see also notification_emails)."
  type = object({
    enabled                = optional(bool, true)
    notification_channels  = optional(list(string), [])
    alert_window_seconds   = optional(number, 300)
    server_error_threshold = optional(number, 0)
  })
  default = null

  validation {
    condition = var.monitoring == null || (
      try(var.monitoring.alert_window_seconds >= 60 && var.monitoring.alert_window_seconds <= 86400, false) &&
      try(var.monitoring.server_error_threshold >= 0, false) &&
      alltrue([for c in try(var.monitoring.notification_channels, []) : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    )
    error_message = "monitoring.alert_window_seconds must be 60-86400, server_error_threshold >= 0, and notification_channels ids of the form projects/P/notificationChannels/N."
  }
}

variable "notification_emails" {
  description = "E-mail addresses the alerts notify: each becomes an e-mail notification channel. With none (and no monitoring.notification_channels) the alerts notify nobody: incidents only show in the console."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notification_emails must be e-mail addresses."
  }
}

# --- APIs ------------------------------------------------------------------------

variable "enable_apis" {
  description = "Enable the Google APIs the deployment uses (google_project_service, never disabled on destroy). false where an administrator enables APIs: the list is in the required_apis output."
  type        = bool
  default     = true
}

# --- Safeguards set in the environment -------------------------------------------

variable "protected_access_codes" {
  description = "PROTECTED_ACCESS_CODES: hotline access codes (or patterns) the function never deletes, whoever asks."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.protected_access_codes : can(regex("^[^,\\s]+$", c))])
    error_message = "protected_access_codes entries must be non-empty and hold no comma or space."
  }
}

variable "lookup_before_delete" {
  description = "CEC_LOOKUP_BEFORE_DELETE: read each route's full record before deleting it (the audit entry that makes undo possible). true by default; false saves the lookups and gives up the undo record."
  type        = bool
  default     = true
}

# --- Secret replication, encryption and versions ---------------------------------

variable "secret_replica_locations" {
  description = "Locations of the secrets' user-managed replicas, e.g. [\"europe-west1\"]; empty for automatic replication (refused where an organisation policy restricts resource locations)."
  type        = list(string)
  default     = []
}

variable "secret_kms_key_names" {
  description = "Customer-managed Cloud KMS keys of the secrets, by replica location (one key per entry of secret_replica_locations, each in that location): { \"europe-west1\" = \"projects/P/locations/europe-west1/keyRings/R/cryptoKeys/K\" }. Empty for Google-managed encryption. Secret Manager's service agent needs roles/cloudkms.cryptoKeyEncrypterDecrypter on each key."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.secret_kms_key_names) == 0 || sort(keys(var.secret_kms_key_names)) == sort(var.secret_replica_locations)
    error_message = "secret_kms_key_names needs one key for each of secret_replica_locations, and no other location."
  }

  validation {
    condition     = alltrue([for k in values(var.secret_kms_key_names) : can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", k))])
    error_message = "secret_kms_key_names values must be projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "secret_versions" {
  description = "Versions the function reads, by secret: cec_credentials, api_keys, webhook, plan_signing_keys, caller_policies => a version number (\"3\") or \"latest\" (the default of each). Pinned, a new version changes nothing until this is changed and applied. WEBHOOK_SECRET is an environment variable resolved at instance start: Google advises pinning it."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k, v in var.secret_versions :
      contains(["cec_credentials", "api_keys", "webhook", "plan_signing_keys", "caller_policies"], k) && can(regex("^([1-9][0-9]*|latest)$", v))
    ])
    error_message = "secret_versions keys must be cec_credentials, api_keys, webhook, plan_signing_keys or caller_policies, and values a version number or latest."
  }
}

# --- Egress ------------------------------------------------------------------------

variable "vpc_connector" {
  description = "Serverless VPC Access connector the function's outbound traffic goes through (projects/P/locations/R/connectors/C), e.g. towards a Cloud NAT with a static address the CEC tenant allow-lists; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_connector == null || can(regex("^projects/[^/]+/locations/[^/]+/connectors/[^/]+$", var.vpc_connector))
    error_message = "vpc_connector must be projects/P/locations/R/connectors/C or null."
  }
}

variable "vpc_connector_egress_settings" {
  description = "With vpc_connector: ALL_TRAFFIC (every call, the CEC API included, leaves through the connector: needed for a static address) or PRIVATE_RANGES_ONLY."
  type        = string
  default     = "ALL_TRAFFIC"

  validation {
    condition     = contains(["ALL_TRAFFIC", "PRIVATE_RANGES_ONLY"], var.vpc_connector_egress_settings)
    error_message = "vpc_connector_egress_settings must be ALL_TRAFFIC or PRIVATE_RANGES_ONLY."
  }
}
