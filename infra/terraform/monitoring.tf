# Log-based metrics from the one summary line the function writes per request
# (function/edge/handler.py), three alert policies and a dashboard: on when
# var.monitoring is set (unless enabled = false), and by default when schedules exist.
# infra/README.md says what each tile and alert means and what to do.

locals {
  monitoring = var.monitoring == null ? local.scheduled : try(var.monitoring.enabled, true)
  # Defaults of the monitoring object where it is null (monitoring on through schedules).
  monitoring_settings = {
    notification_channels  = var.monitoring == null ? [] : var.monitoring.notification_channels
    alert_window_seconds   = var.monitoring == null ? 300 : var.monitoring.alert_window_seconds
    server_error_threshold = var.monitoring == null ? 0 : var.monitoring.server_error_threshold
  }
  notification_channels = concat(
    local.monitoring_settings.notification_channels,
    [for c in google_monitoring_notification_channel.email : c.id],
  )
  # Known at plan time: whether anybody is told when an alert fires.
  notifies_somebody = length(local.monitoring_settings.notification_channels) + length(var.notification_emails) > 0

  # What the summary line says about routes that were not deleted, and the field each
  # count is in: jsonPayload.outcomes.<route outcome> (function/edge/handler.py,
  # _count_outcomes), and jsonPayload.notRestorable, routes deleted without their full
  # record captured first (no undo).
  route_counts = {
    protected      = "outcomes.protected"
    unknown        = "outcomes.unknown"
    failed         = "outcomes.failed"
    not_restorable = "notRestorable"
  }
  # Requests whose deletion did not fully happen, by the summary line's outcome.
  unfinished_outcomes = ["partial", "failed"]

  # The summary line: the only line on the function's stdout log with an
  # httpRequest. That is a special field of structured logs: Cloud Logging moves
  # it from the JSON to the entry's httpRequest
  # (https://cloud.google.com/logging/docs/structured-logging#special-payload-fields).
  summary_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.name}\"",
    "logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Fstdout\"",
    "httpRequest.status:*",
  ])

  # The stages the function counts (function/cec/client.py, tokens.py, secret_manager.py;
  # tests/infra/test_monitoring_fields.py keeps this list equal to them).
  upstream_stages = ["secret", "token", "query", "delete"]

  metric_prefix = "logging.googleapis.com/user/"
  # PromQL names of Cloud Monitoring metrics: first "/" -> ":", other specials -> "_"
  # (https://cloud.google.com/monitoring/promql/promql-mapping).
  promql_prefix = "logging_googleapis_com:user_"
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = local.monitoring ? toset(var.notification_emails) : toset([])
  project      = var.project_id
  display_name = "${var.name} alerts to ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
  user_labels = local.labels
  depends_on  = [google_project_service.this]
}

# Shown by `terraform plan` and `apply` as a warning: alerts without any channel
# open incidents in the console and tell nobody.
check "alerts_notify_somebody" {
  assert {
    condition     = !local.monitoring || local.notifies_somebody
    error_message = "The alert policies of ${var.name} notify NOBODY: set notification_emails (or monitoring.notification_channels). Incidents only show in the console (Monitoring > Alerting)."
  }
}

resource "google_logging_metric" "requests" {
  count      = local.monitoring ? 1 : 0
  project    = var.project_id
  name       = "${var.name}/requests"
  filter     = local.summary_filter
  depends_on = [google_project_service.this]

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name} requests"
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "HTTP status of the answer."
    }
    labels {
      key         = "code"
      value_type  = "STRING"
      description = "Problem code (empty for a result)."
    }
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "deleted, partial, failed or planned (empty for a problem)."
    }
    labels {
      key         = "caller"
      value_type  = "STRING"
      description = "api_key:<name>, webhook, iam:<email> (empty before authentication)."
    }
  }

  label_extractors = {
    status  = "EXTRACT(httpRequest.status)"
    code    = "EXTRACT(jsonPayload.code)"
    outcome = "EXTRACT(jsonPayload.outcome)"
    caller  = "EXTRACT(jsonPayload.caller)"
  }
}

resource "google_logging_metric" "deleted_routes" {
  count           = local.monitoring ? 1 : 0
  project         = var.project_id
  depends_on      = [google_project_service.this]
  name            = "${var.name}/deleted_routes"
  filter          = "${local.summary_filter} AND jsonPayload.deletedCount:*"
  value_extractor = "EXTRACT(jsonPayload.deletedCount)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "${var.name} routes deleted per request"
    labels {
      key         = "caller"
      value_type  = "STRING"
      description = "Who asked for the deletion."
    }
  }

  label_extractors = {
    caller = "EXTRACT(jsonPayload.caller)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "duration" {
  count           = local.monitoring ? 1 : 0
  project         = var.project_id
  depends_on      = [google_project_service.this]
  name            = "${var.name}/duration_ms"
  filter          = local.summary_filter
  value_extractor = "EXTRACT(jsonPayload.durationMs)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "${var.name} request duration"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 14
      growth_factor      = 2
      scale              = 10
    }
  }
}

resource "google_logging_metric" "upstream_calls" {
  for_each        = local.monitoring ? toset(local.upstream_stages) : toset([])
  project         = var.project_id
  depends_on      = [google_project_service.this]
  name            = "${var.name}/upstream_calls_${each.key}"
  filter          = "${local.summary_filter} AND jsonPayload.upstreamCalls.${each.key}:*"
  value_extractor = "EXTRACT(jsonPayload.upstreamCalls.${each.key})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "${var.name} ${each.key} calls per request"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 12
      growth_factor      = 2
      scale              = 1
    }
  }
}

# Requests whose deletion did not fully happen: one counter per summary outcome.
resource "google_logging_metric" "unfinished" {
  for_each   = local.monitoring ? toset(local.unfinished_outcomes) : toset([])
  project    = var.project_id
  name       = "${var.name}/requests_${each.key}"
  filter     = "${local.summary_filter} AND jsonPayload.outcome=\"${each.key}\""
  depends_on = [google_project_service.this]

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name} ${each.key} deletions"
    labels {
      key         = "caller"
      value_type  = "STRING"
      description = "Who asked for the deletion (iam:<email> for a schedule)."
    }
  }

  label_extractors = {
    caller = "EXTRACT(jsonPayload.caller)"
  }
}

# Routes left in place or deleted without their record, per request that had any.
resource "google_logging_metric" "route_counts" {
  for_each        = local.monitoring ? local.route_counts : {}
  project         = var.project_id
  name            = "${var.name}/routes_${each.key}"
  filter          = "${local.summary_filter} AND jsonPayload.${each.value}>0"
  value_extractor = "EXTRACT(jsonPayload.${each.value})"
  depends_on      = [google_project_service.this]

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "${var.name} routes ${replace(each.key, "_", "-")} per request"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 12
      growth_factor      = 2
      scale              = 1
    }
  }
}

locals {
  requests_metric = local.monitoring ? "${local.metric_prefix}${google_logging_metric.requests[0].name}" : ""
  alert_base      = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.requests_metric}\""
}

resource "google_monitoring_alert_policy" "upstream_auth_failed" {
  count                 = local.monitoring ? 1 : 0
  project               = var.project_id
  display_name          = "${var.name}: CEC rejects the credentials (upstream_auth_failed)"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "ERROR"
  user_labels           = local.labels

  conditions {
    display_name = "any upstream_auth_failed answer"
    condition_threshold {
      filter          = "${local.alert_base} AND metric.label.code=\"upstream_auth_failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "${local.monitoring_settings.alert_window_seconds}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "tokenByAkSk refused the AK/SK in secret `${google_secret_manager_secret.this["cec_credentials"].secret_id}` (after one re-read), or the API refused a fresh token. Nothing is deleted until it is fixed. Check the AK/SK in the CEC console, then `gcloud secrets versions add ${google_secret_manager_secret.this["cec_credentials"].secret_id} --data-file=...`; see infra/README.md, Monitoring."
  }
}

resource "google_monitoring_alert_policy" "server_errors" {
  count                 = local.monitoring ? 1 : 0
  project               = var.project_id
  display_name          = "${var.name}: 5xx answers"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"
  user_labels           = local.labels

  conditions {
    display_name = "5xx answers over the threshold"
    condition_threshold {
      # Label values are strings; monitoring filters match them by regular expression.
      filter          = "${local.alert_base} AND metric.label.status=monitoring.regex.full_match(\"5[0-9][0-9]\")"
      comparison      = "COMPARISON_GT"
      threshold_value = local.monitoring_settings.server_error_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "${local.monitoring_settings.alert_window_seconds}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.code"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The function answered 5xx more than ${local.monitoring_settings.server_error_threshold} times in ${local.monitoring_settings.alert_window_seconds} s. The incident names the `code`: `upstream_unavailable`/`upstream_timeout` are the CEC API (callers retry), `secret_unavailable`/`misconfigured`/`not_configured` are this deployment, `internal_error` is a bug (the requestId finds it). See infra/README.md, Monitoring."
  }
}

# A scheduled cleanup that did not fully happen: Cloud Scheduler records a 207 as a
# success, so this is what tells the job's owner.
resource "google_monitoring_alert_policy" "unfinished" {
  count                 = local.monitoring ? 1 : 0
  project               = var.project_id
  display_name          = "${var.name}: deletions not fully done (partial, failed, not restorable)"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"
  user_labels           = local.labels

  dynamic "conditions" {
    for_each = google_logging_metric.unfinished
    content {
      display_name = "a ${conditions.key} deletion"
      condition_threshold {
        filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_prefix}${conditions.value.name}\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"
        aggregations {
          alignment_period     = "${local.monitoring_settings.alert_window_seconds}s"
          per_series_aligner   = "ALIGN_SUM"
          cross_series_reducer = "REDUCE_SUM"
          group_by_fields      = ["metric.label.caller"]
        }
        trigger {
          count = 1
        }
      }
    }
  }

  conditions {
    display_name = "routes deleted without their record (not restorable)"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_prefix}${google_logging_metric.route_counts["not_restorable"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "${local.monitoring_settings.alert_window_seconds}s"
        per_series_aligner   = "ALIGN_COUNT"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A deletion of ${var.name} did not fully happen: `partial` (some routes deleted, some not: `protected`, `unknown`, `failed`), `failed` (none deleted), or routes deleted without their full record captured first (no undo from the audit trail). The caller label names who asked (iam:<scheduler account> for a schedule). Find the request: `jsonPayload.outcome` and `jsonPayload.outcomes` on the summary line; the answer's `results` name each route. See docs/RUNBOOK.md and infra/README.md, Alerts."
  }
}

# New versions of the function's secrets: each changes who may delete (API keys,
# webhook secrets, caller policies, plan-signing keys) or what the function deletes with
# (the AK/SK). AddSecretVersion checks an ADMIN_WRITE permission, so it is in the Admin
# Activity audit log, always written and free; no Data Access logs are needed
# (https://cloud.google.com/secret-manager/docs/audit-logging).
locals {
  secret_version_filter = join(" AND ", [
    "logName=\"projects/${var.project_id}/logs/cloudaudit.googleapis.com%2Factivity\"",
    "protoPayload.serviceName=\"secretmanager.googleapis.com\"",
    "protoPayload.methodName=\"google.cloud.secretmanager.v1.SecretManagerService.AddSecretVersion\"",
    "protoPayload.resourceName=~\"/secrets/(${join("|", sort(values(local.secrets)))})(/|$)\"",
  ])
}

resource "google_logging_metric" "secret_versions" {
  count      = local.monitoring ? 1 : 0
  project    = var.project_id
  name       = "${var.name}/secret_versions_added"
  filter     = local.secret_version_filter
  depends_on = [google_project_service.this]

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name} secret versions added"
    labels {
      key         = "secret"
      value_type  = "STRING"
      description = "The secret that got a new version."
    }
    labels {
      key         = "principal"
      value_type  = "STRING"
      description = "Who added it."
    }
  }

  label_extractors = {
    secret    = "REGEXP_EXTRACT(protoPayload.resourceName, \"/secrets/([^/]+)\")"
    principal = "EXTRACT(protoPayload.authenticationInfo.principalEmail)"
  }
}

resource "google_monitoring_alert_policy" "secret_versions" {
  count                 = local.monitoring ? 1 : 0
  project               = var.project_id
  display_name          = "${var.name}: a new version of one of its secrets"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"
  user_labels           = local.labels

  conditions {
    display_name = "any AddSecretVersion on the function's secrets"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_prefix}${google_logging_metric.secret_versions[0].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "${local.monitoring_settings.alert_window_seconds}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.secret", "metric.label.principal"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A new version was added to a secret of ${var.name} (labels: which secret, and who). API keys, webhook secrets, caller policies and plan-signing keys decide who may delete; the AK/SK what the function deletes with. If nobody planned this rotation: disable the version (`gcloud secrets versions disable`), find the principal's other actions in the Admin Activity log, and review who holds roles/secretmanager.secretVersionAdder (docs/SECURITY.md)."
  }
}

resource "google_monitoring_dashboard" "this" {
  count   = local.monitoring ? 1 : 0
  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboard.json.tftpl", {
    title           = "${var.name}: called-route deletions"
    requests        = local.requests_metric
    duration        = "${local.metric_prefix}${google_logging_metric.duration[0].name}"
    deleted_promql  = "${local.promql_prefix}${replace(google_logging_metric.deleted_routes[0].name, "/[^A-Za-z0-9_]/", "_")}"
    unfinished      = { for outcome, m in google_logging_metric.unfinished : outcome => "${local.metric_prefix}${m.name}" }
    routes_promql   = { for kind, m in google_logging_metric.route_counts : kind => "${local.promql_prefix}${replace(m.name, "/[^A-Za-z0-9_]/", "_")}" }
    upstream_promql = { for stage, m in google_logging_metric.upstream_calls : stage => "${local.promql_prefix}${replace(m.name, "/[^A-Za-z0-9_]/", "_")}" }
  })
}
