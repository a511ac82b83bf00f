locals {
  source_dir = coalesce(var.source_dir, "${path.module}/../..")

  # Allow-list of what the function needs at run time. Tests, the CEC simulator,
  # docs, infra and local files (.env, .venv) never reach the zip, whatever else
  # lies in the checkout.
  source_files = sort(concat(
    ["main.py", "requirements.txt"],
    tolist(fileset(local.source_dir, "function/**/*.py")),
  ))

  # Named by the content of the files (sha256 of "<sha256>  <path>" lines, as
  # `sha256sum FILES | sha256sum` prints it), so infra/gcloud/deploy.sh names the
  # same code the same object, and the name is known without reading the zip.
  source_hash = substr(sha256(join("", [
    for f in local.source_files : "${filesha256("${local.source_dir}/${f}")}  ${f}\n"
  ])), 0, 16)

  # One secret container per secret the function reads. Values are added out of
  # band with `gcloud secrets versions add`, so none ever enters Terraform state.
  secrets = merge(
    { cec_credentials = "${var.name}-cec-credentials" },
    contains(var.caller_auth, "api_key") ? { api_keys = "${var.name}-api-keys" } : {},
    contains(var.caller_auth, "webhook") ? { webhook = "${var.name}-webhook-secret" } : {},
    var.plan_tokens ? { plan_signing_keys = "${var.name}-plan-signing-keys" } : {},
    var.caller_policies ? { caller_policies = "${var.name}-caller-policies" } : {},
  )

  # Every variable the function reads is either set here, tunable through
  # extra_environment_variables, or deliberately left to the code's default
  # (tests/infra/test_terraform.py keeps that list honest). Nulls are dropped.
  environment = { for key, value in merge(var.extra_environment_variables, {
    CALLER_AUTH   = join(",", var.caller_auth)
    CEC_BASE_URL  = var.cec_base_url
    CEC_TOKEN_URL = var.cec_token_url
    # gunicorn's threads equal max_instance_request_concurrency (issue 14), so
    # requests never queue inside an instance that Cloud Run believes has room.
    THREADS                = tostring(var.max_instance_request_concurrency)
    REQUEST_BUDGET_SECONDS = tostring(var.request_budget_seconds)
    GOOGLE_CLOUD_PROJECT   = var.project_id
    LOG_LEVEL              = var.log_level

    # Secrets read at request time (issue 14), each set only when the deployment has
    # it (api_key mode, plan_tokens, caller_policies): by secrets_source, the file it is
    # mounted as (*_FILE) or the version the client library reads (*_SECRET), never both.
    CEC_CREDENTIALS_FILE     = lookup(local.secret_files, "cec_credentials", null)
    CEC_CREDENTIALS_SECRET   = lookup(local.secret_versions, "cec_credentials", null)
    API_KEYS_FILE            = lookup(local.secret_files, "api_keys", null)
    API_KEYS_SECRET          = lookup(local.secret_versions, "api_keys", null)
    PLAN_SIGNING_KEYS_FILE   = lookup(local.secret_files, "plan_signing_keys", null)
    PLAN_SIGNING_KEYS_SECRET = lookup(local.secret_versions, "plan_signing_keys", null)
    CALLER_POLICIES_FILE     = lookup(local.secret_files, "caller_policies", null)
    CALLER_POLICIES_SECRET   = lookup(local.secret_versions, "caller_policies", null)

    # Idempotency store (issue 12); the Firestore names only with that store.
    IDEMPOTENCY_STORE                = var.idempotency_store
    IDEMPOTENCY_FIRESTORE_DATABASE   = local.firestore_store ? local.firestore_database : null
    IDEMPOTENCY_FIRESTORE_COLLECTION = local.firestore_store ? var.idempotency_collection : null
    IDEMPOTENCY_ON_STORE_ERROR       = var.idempotency_on_store_error

    # Safeguards set in the environment: hotlines never deleted, and the record
    # lookup before deletion, written only when turned off (the code's default is on).
    PROTECTED_ACCESS_CODES   = length(var.protected_access_codes) > 0 ? join(",", var.protected_access_codes) : null
    CEC_LOOKUP_BEFORE_DELETE = var.lookup_before_delete ? null : "false"

    # iam mode: who may call (the scheduler's invoker account and the user:/serviceAccount:
    # invoker members; an ID token names one email, never its groups), and the URLs a
    # token Cloud Run did not check must name as its audience (function/callers/iam.py).
    IAM_ALLOWED_PRINCIPALS = contains(var.caller_auth, "iam") ? join(",", concat(
      local.scheduled ? ["serviceAccount:${google_service_account.invoker[0].email}"] : [],
      [for m in var.invoker_members : m if startswith(m, "user:") || startswith(m, "serviceAccount:")],
    )) : null
    IAM_AUDIENCES = contains(var.caller_auth, "iam") ? join(",", [
      "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name}",
      "https://${var.name}-${data.google_project.this.number}.${var.region}.run.app",
    ]) : null

    # The platform adds it to every gen2 function; declaring it keeps plans clean.
    LOG_EXECUTION_ID = "true"
  }) : key => value if value != null }

  labels = merge(var.labels, { app = "cec-called-routes" })

  # Secrets read at request time (issue 14). With secrets_source = "volume" each is
  # mounted as a file that Cloud Run fetches from Secret Manager on each read: no
  # client library on the cold path. One directory per secret, siblings under
  # /etc/secrets (the recommended mount path): a secret's mount path is shadowed
  # entirely and cannot take any other secret (Cloud Functions v2 API reference,
  # SecretVolume.mount_path: https://cloud.google.com/ruby/docs/reference/google-cloud-functions-v2/latest/Google-Cloud-Functions-V2-SecretVolume),
  # so no two secrets may share a directory or nest in another's; the v1 reference
  # restricts /cloudsql, /dev/log, /pod, /proc and /var/log. tests/infra/test_secret_volume.py
  # checks both rules.
  # WEBHOOK_SECRET stays a secret environment variable (resolved at instance start,
  # no library either; see secret_environment_variables below): the function reads no
  # file for it. Google advises pinning such a variable to a version
  # (https://cloud.google.com/run/docs/configuring/services/secrets): secret_versions.webhook.
  secrets_volume = var.secrets_source == "volume"
  secret_mounts = {
    cec_credentials   = { directory = "/etc/secrets/cec", file = "credentials.json" }
    api_keys          = { directory = "/etc/secrets/api-keys", file = "keys" }
    plan_signing_keys = { directory = "/etc/secrets/plan-signing-keys", file = "keys" }
    caller_policies   = { directory = "/etc/secrets/caller-policies", file = "policies.json" }
  }
  # Those this deployment has: a mode's secret exists only in that mode (local.secrets).
  request_secrets = [for key in keys(local.secret_mounts) : key if contains(keys(local.secrets), key)]
  mounted_secrets = { for key in local.request_secrets : key => local.secret_mounts[key] if local.secrets_volume }
  secret_files    = { for key, mount in local.mounted_secrets : key => "${mount.directory}/${mount.file}" }
  # The version each secret is read at: pinned in var.secret_versions, else latest.
  secret_version = { for key in keys(local.secrets) : key => lookup(var.secret_versions, key, "latest") }
  secret_versions = {
    for key in local.request_secrets : key => "${google_secret_manager_secret.this[key].id}/versions/${local.secret_version[key]}"
    if !local.secrets_volume
  }
}

# Shown by `terraform plan` as a warning: WEBHOOK_SECRET is resolved when an instance
# starts, so with "latest" instances started before and after a new version disagree,
# and a version added by anyone takes effect without an apply.
check "webhook_secret_pinned" {
  assert {
    condition     = lookup(local.secret_version, "webhook", "absent") != "latest"
    error_message = "WEBHOOK_SECRET of ${var.name} follows the latest version of its secret: pin it with secret_versions = { webhook = \"N\" } (Google advises pinning secrets used as environment variables)."
  }
}

# A data source: the zip is written under .terraform/tmp when Terraform plans.
# `terraform apply` (which plans first) always has it; a saved plan applied in
# another job or machine does not, so run plan and apply in the same workspace
# (or carry .terraform/tmp along with the plan file). See infra/README.md.
data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.root}/.terraform/tmp/${var.name}-source.zip"

  dynamic "source" {
    for_each = local.source_files
    content {
      filename = source.value
      content  = file("${local.source_dir}/${source.value}")
    }
  }
}

resource "google_storage_bucket" "source" {
  # checkov:skip=CKV_GCP_62:Holds only build input (the repository's own source); access logs would need a second bucket and add nothing.
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name}-src"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels
  depends_on                  = [google_project_service.this]

  versioning {
    enabled = true
  }

  # Objects are named by content hash, so old versions are only rollback aids.
  # infra/gcloud/source-lifecycle.json is the same rule for deploy.sh (tests/infra
  # compares them), as image-cleanup-policy.json is for cleanup_policies below.
  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "source" {
  # The hash in the name makes a code change a new object, which makes the
  # function's build_config change, which redeploys it.
  name   = "source/${var.name}-${local.source_hash}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Images hold only the public runtime and this repository's code, no data worth a customer-managed key.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name}-images"
  format        = "DOCKER"
  description   = "Build images of the ${var.name} function."
  labels        = local.labels
  depends_on    = [google_project_service.this]

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s"
    }
  }
}

resource "google_secret_manager_secret" "this" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = each.value
  labels    = merge(local.labels, { purpose = replace(each.key, "_", "-") })

  # Automatic, or user-managed in the listed locations where an organisation policy
  # restricts resource locations.
  replication {
    dynamic "auto" {
      for_each = length(var.secret_replica_locations) == 0 ? [1] : []
      content {}
    }
    dynamic "user_managed" {
      for_each = length(var.secret_replica_locations) > 0 ? [1] : []
      content {
        dynamic "replicas" {
          for_each = var.secret_replica_locations
          content {
            location = replicas.value
            # A customer-managed key per replica, in the replica's location.
            dynamic "customer_managed_encryption" {
              for_each = contains(keys(var.secret_kms_key_names), replicas.value) ? [1] : []
              content {
                kms_key_name = var.secret_kms_key_names[replicas.value]
              }
            }
          }
        }
      }
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_cloudfunctions2_function" "this" {
  # checkov:skip=CKV_GCP_124:Cloud Scheduler, Workflows and SaaS automation tools call from outside any VPC; every request is authenticated by Cloud Run IAM (default) or, only with public_access, by webhook signature / API key. Set ingress_settings to restrict further.
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = "Deletes Huawei Cloud CEC called routes."
  labels      = local.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "delete_called_route"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.images.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    ingress_settings                 = var.ingress_settings
    all_traffic_on_latest_revision   = true
    available_memory                 = var.available_memory
    available_cpu                    = var.available_cpu
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instance_count
    max_instance_count               = var.max_instance_count
    max_instance_request_concurrency = var.max_instance_request_concurrency
    environment_variables            = local.environment
    # Outbound traffic through a Serverless VPC Access connector (e.g. to a Cloud NAT
    # with a static address); infra/README.md, Egress.
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : var.vpc_connector_egress_settings

    # Each secret read at request time, mounted from Secret Manager in a directory of
    # its own (local.secret_mounts); the value never appears in the function's
    # configuration or in Terraform state, and the runtime account's per-secret
    # accessor binding (iam.tf) covers it, as it iterates over the same secrets.
    dynamic "secret_volumes" {
      for_each = local.mounted_secrets
      content {
        mount_path = secret_volumes.value.directory
        project_id = var.project_id
        secret     = google_secret_manager_secret.this[secret_volumes.key].secret_id
        versions {
          version = local.secret_version[secret_volumes.key]
          path    = secret_volumes.value.file
        }
      }
    }

    dynamic "secret_environment_variables" {
      for_each = contains(var.caller_auth, "webhook") ? ["webhook"] : []
      content {
        key        = "WEBHOOK_SECRET"
        project_id = var.project_id
        secret     = google_secret_manager_secret.this[secret_environment_variables.value].secret_id
        version    = local.secret_version["webhook"]
      }
    }
  }

  # A deployment checks the runtime account's access to mounted secrets and the
  # build account's permissions, so the grants must exist, and have propagated,
  # first (iam.tf waits after every grant).
  depends_on = [time_sleep.iam_propagation]
}
