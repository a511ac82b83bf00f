#!/usr/bin/env bash
# Deploys the CEC called-route deletion function with gcloud alone: the same
# resources, identities and grants as infra/terraform, for users without
# Terraform. Safe to re-run: every step creates what is missing and updates the
# rest. --dry-run prints the commands instead of running them (no gcloud needed).
# Written for bash 3.2 too (macOS): no mapfile, and every array that may be empty
# is expanded as ${A[@]+"${A[@]}"}, which `set -u` accepts before bash 4.4.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: infra/gcloud/deploy.sh --project ID --cec-base-url URL [options]

  --project ID          Google Cloud project (required)
  --cec-base-url URL    your tenant's CEC API base URL, https:// (required)
  --region REGION       default europe-west1
  --name NAME           function name and resource prefix, default cec-called-routes
  --caller-auth LIST    comma list of iam, webhook, api_key; default iam
  --public              let allUsers invoke (needs webhook and/or api_key, not iam)
  --invoker MEMBER      extra IAM member allowed to invoke (repeatable): user:,
                        serviceAccount:, group:, principal:, principalSet: (never
                        allUsers, allAuthenticatedUsers, domain:); with iam, the
                        user: and serviceAccount: ones fill IAM_ALLOWED_PRINCIPALS
  --runtime RUNTIME     python311, python312 (default) or python313
  --schedule CRON       create or update a Cloud Scheduler job with this schedule
  --job NAME            scheduler job suffix, default nightly
  --time-zone TZ        scheduler time zone, default Etc/UTC
  --dnids LIST          comma list of DNIDs the scheduled job deletes
  --request-budget S    REQUEST_BUDGET_SECONDS, default 25
  --timeout S           function timeout, default 60 (at least budget + 5; with
                        --schedule at most 1785, as Scheduler waits 30 min at most)
  --iam-wait S          seconds to wait after the IAM grants, default 60
  --secrets-source S    volume (default: each secret read at request time, the
                        AK/SK and with api_key the API keys, mounted as a file) or
                        secret_manager (each read with the client library)
  --concurrency N       requests per instance, default 1; THREADS is set to match
                        (above 1 also sets --cpu=1, which concurrency needs)
  --max-instances N     upper bound on instances, default 3 (1-100)
  --min-instances N     instances kept warm, default 0
  --memory SIZE         memory of one instance, default 256Mi (e.g. 512Mi, 1Gi)
  --ingress SETTING     all (default), internal-only or internal-and-gclb
  --log-level LEVEL     DEBUG, INFO (default), WARNING or ERROR

 Safeguards (the module's variable in brackets):
  --plan-tokens         create <name>-plan-signing-keys and sign plan tokens [plan_tokens]
  --caller-policies     create <name>-caller-policies and enforce it [caller_policies]
  --protected-access-codes LIST
                        comma list of hotlines never deleted [protected_access_codes]
  --no-lookup-before-delete
                        skip the record lookup before deleting (no undo record)
                        [lookup_before_delete = false]
  --idempotency-store S memory (default) or firestore [idempotency_store]
  --firestore-database NAME
                        an existing Firestore database for the store, e.g. (default);
                        without it, a database of the function's own named NAME is
                        created, with delete protection [firestore_database_name]
  --create-firestore-database
                        create the --firestore-database one in --region
                        [create_firestore_database]
  --firestore-deletable a database created here without delete protection
                        [firestore_deletable]
  --idempotency-on-store-error fail|proceed
                        default fail [idempotency_on_store_error]
  --audit-sink S        log_bucket (default): the audit entries in a log bucket
                        <name>-audit of their own; none: left in _Default (30 days,
                        erasable) [audit_sink]
  --audit-retention-days N
                        retention of that bucket, default 400 [audit_retention_days]
  --audit-locked        lock the bucket: its retention can no longer change, and it
                        cannot be deleted while it holds entries; irreversible
                        [audit_locked]
  --audit-project ID    put the bucket in this (logging) project; the sink's writer
                        identity gets logging.bucketWriter there [audit_project]
  --audit-kms-key KEY   customer-managed key of the bucket [audit_kms_key_name]
  --secret-locations LIST
                        user-managed replication of the secrets in these locations
                        (default automatic) [secret_replica_locations]
  --secret-kms-keys LIST
                        LOCATION=KEY,...: a customer-managed key per location of
                        --secret-locations [secret_kms_key_names]
  --secret-version SECRET=N
                        read this version of a secret (repeatable; default latest):
                        SECRET is cec_credentials, api_keys, webhook,
                        plan_signing_keys or caller_policies; pin webhook, an
                        environment variable read at instance start [secret_versions]
  --vpc-connector CONNECTOR
                        projects/P/locations/R/connectors/C: outbound traffic through a
                        Serverless VPC Access connector [vpc_connector]
  --egress-settings S   with --vpc-connector: all (default) or private-ranges-only
                        [vpc_connector_egress_settings]
  --dry-run             print the commands, run nothing

The first run creates the secrets and stops there (exit 3) with the exact commands
that add their values; run the same command again once they have values.
EOF
}

die() { echo "deploy.sh: $*" >&2; exit 2; }

PROJECT="" CEC_BASE_URL="" REGION="europe-west1" NAME="cec-called-routes"
CALLER_AUTH="iam" PUBLIC=false SCHEDULE="" JOB="nightly" TIME_ZONE="Etc/UTC"
DNIDS="" BUDGET=25 TIMEOUT=60 DRY_RUN=false RUNTIME="python312" IAM_WAIT=60
SECRETS_SOURCE="volume" CONCURRENCY=1
MAX_INSTANCES=3 MIN_INSTANCES=0 MEMORY="256Mi" INGRESS="all" LOG_LEVEL="INFO"
PLAN_TOKENS=false CALLER_POLICIES=false PROTECTED="" LOOKUP_BEFORE_DELETE=true
IDEMPOTENCY_STORE="memory" FIRESTORE_DATABASE="" CREATE_FIRESTORE=false FIRESTORE_DELETABLE=false
ON_STORE_ERROR="fail" AUDIT_SINK="log_bucket" AUDIT_RETENTION=400 SECRET_LOCATIONS=""
AUDIT_LOCKED=false AUDIT_PROJECT="" AUDIT_KMS="" SECRET_KMS_KEYS=""
VPC_CONNECTOR="" EGRESS=""
# The version each secret is read at (--secret-version), by the module's secret_versions keys.
VERSION_cec_credentials=latest VERSION_api_keys=latest VERSION_webhook=latest
VERSION_plan_signing_keys=latest VERSION_caller_policies=latest
# The module's idempotency_collection default: the TTL policy is set on it.
COLLECTION="cec-delete-called-route-idempotency"
INVOKERS=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) PROJECT="${2:?}"; shift 2 ;;
    --cec-base-url) CEC_BASE_URL="${2:?}"; shift 2 ;;
    --region) REGION="${2:?}"; shift 2 ;;
    --name) NAME="${2:?}"; shift 2 ;;
    --caller-auth) CALLER_AUTH="${2:?}"; shift 2 ;;
    --public) PUBLIC=true; shift ;;
    --invoker) INVOKERS+=("${2:?}"); shift 2 ;;
    --schedule) SCHEDULE="${2:?}"; shift 2 ;;
    --job) JOB="${2:?}"; shift 2 ;;
    --time-zone) TIME_ZONE="${2:?}"; shift 2 ;;
    --dnids) DNIDS="${2:?}"; shift 2 ;;
    --request-budget) BUDGET="${2:?}"; shift 2 ;;
    --timeout) TIMEOUT="${2:?}"; shift 2 ;;
    --runtime) RUNTIME="${2:?}"; shift 2 ;;
    --iam-wait) IAM_WAIT="${2:?}"; shift 2 ;;
    --secrets-source) SECRETS_SOURCE="${2:?}"; shift 2 ;;
    --concurrency) CONCURRENCY="${2:?}"; shift 2 ;;
    --max-instances) MAX_INSTANCES="${2:?}"; shift 2 ;;
    --min-instances) MIN_INSTANCES="${2:?}"; shift 2 ;;
    --memory) MEMORY="${2:?}"; shift 2 ;;
    --ingress) INGRESS="${2:?}"; shift 2 ;;
    --log-level) LOG_LEVEL="${2:?}"; shift 2 ;;
    --plan-tokens) PLAN_TOKENS=true; shift ;;
    --caller-policies) CALLER_POLICIES=true; shift ;;
    --protected-access-codes) PROTECTED="${2:?}"; shift 2 ;;
    --no-lookup-before-delete) LOOKUP_BEFORE_DELETE=false; shift ;;
    --idempotency-store) IDEMPOTENCY_STORE="${2:?}"; shift 2 ;;
    --firestore-database) FIRESTORE_DATABASE="${2:?}"; shift 2 ;;
    --create-firestore-database) CREATE_FIRESTORE=true; shift ;;
    --firestore-deletable) FIRESTORE_DELETABLE=true; shift ;;
    --idempotency-on-store-error) ON_STORE_ERROR="${2:?}"; shift 2 ;;
    --audit-sink) AUDIT_SINK="${2:?}"; shift 2 ;;
    --audit-retention-days) AUDIT_RETENTION="${2:?}"; shift 2 ;;
    --audit-locked) AUDIT_LOCKED=true; shift ;;
    --audit-project) AUDIT_PROJECT="${2:?}"; shift 2 ;;
    --audit-kms-key) AUDIT_KMS="${2:?}"; shift 2 ;;
    --secret-kms-keys) SECRET_KMS_KEYS="${2:?}"; shift 2 ;;
    --secret-version)
      [[ "${2:?}" =~ ^(cec_credentials|api_keys|webhook|plan_signing_keys|caller_policies)=([1-9][0-9]*|latest)$ ]] ||
        die "--secret-version must be SECRET=N with SECRET one of cec_credentials, api_keys, webhook, plan_signing_keys, caller_policies and N a version number or latest"
      case "${BASH_REMATCH[1]}" in
        cec_credentials) VERSION_cec_credentials="${BASH_REMATCH[2]}" ;;
        api_keys) VERSION_api_keys="${BASH_REMATCH[2]}" ;;
        webhook) VERSION_webhook="${BASH_REMATCH[2]}" ;;
        plan_signing_keys) VERSION_plan_signing_keys="${BASH_REMATCH[2]}" ;;
        caller_policies) VERSION_caller_policies="${BASH_REMATCH[2]}" ;;
      esac
      shift 2
      ;;
    --secret-locations) SECRET_LOCATIONS="${2:?}"; shift 2 ;;
    --vpc-connector) VPC_CONNECTOR="${2:?}"; shift 2 ;;
    --egress-settings) EGRESS="${2:?}"; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# --- Validation: the same rules as infra/terraform/variables.tf -------------
[[ -n "$PROJECT" ]] || die "--project is required"
[[ "$CEC_BASE_URL" =~ ^https://[^[:space:]/]+(/[^[:space:]]*)?$ ]] || die "--cec-base-url must be an https:// URL"
[[ "$NAME" =~ ^[a-z][a-z0-9-]{1,22}[a-z0-9]$ ]] || die "--name must be 3-24 lowercase letters, digits or hyphens"
[[ "$BUDGET" =~ ^[0-9]+$ && "$TIMEOUT" =~ ^[0-9]+$ && "$IAM_WAIT" =~ ^[0-9]+$ ]] ||
  die "--request-budget, --timeout and --iam-wait are whole seconds"
((BUDGET > 0)) || die "--request-budget must be above 0"
((TIMEOUT >= BUDGET + 5)) || die "--timeout must be at least --request-budget + 5 so the function can answer in time"
((TIMEOUT <= 3600)) || die "--timeout must be at most 3600"
((IAM_WAIT <= 600)) || die "--iam-wait must be at most 600"
case "$RUNTIME" in python311 | python312 | python313) ;; *) die "--runtime must be python311, python312 or python313" ;; esac
[[ "$SECRETS_SOURCE" == volume || "$SECRETS_SOURCE" == secret_manager ]] ||
  die "--secrets-source must be volume or secret_manager"
[[ "$CONCURRENCY" =~ ^[1-9][0-9]{0,2}$ ]] || die "--concurrency must be 1-999"
[[ "$MAX_INSTANCES" =~ ^[1-9][0-9]{0,2}$ ]] || die "--max-instances must be 1-100"
((MAX_INSTANCES <= 100)) || die "--max-instances must be 1-100"
[[ "$MIN_INSTANCES" =~ ^[0-9]{1,3}$ ]] || die "--min-instances must be 0 to --max-instances"
((MIN_INSTANCES <= MAX_INSTANCES)) || die "--min-instances must be 0 to --max-instances"
[[ "$MEMORY" =~ ^[1-9][0-9]*(Mi|Gi)$ ]] || die "--memory must be a size such as 256Mi or 1Gi"
case "$INGRESS" in all | internal-only | internal-and-gclb) ;; *) die "--ingress must be all, internal-only or internal-and-gclb" ;; esac
case "$LOG_LEVEL" in DEBUG | INFO | WARNING | ERROR) ;; *) die "--log-level must be DEBUG, INFO, WARNING or ERROR" ;; esac
[[ -z "$PROTECTED" || "$PROTECTED" =~ ^[^,[:space:]]+(,[^,[:space:]]+)*$ ]] ||
  die "--protected-access-codes must be a comma list without spaces"
[[ "$IDEMPOTENCY_STORE" == memory || "$IDEMPOTENCY_STORE" == firestore ]] ||
  die "--idempotency-store must be memory or firestore"
[[ -z "$FIRESTORE_DATABASE" || "$FIRESTORE_DATABASE" =~ ^(\(default\)|[a-z][a-z0-9-]{2,62})$ ]] ||
  die "--firestore-database must be (default) or 3-63 lowercase letters, digits and hyphens"
if [[ "$IDEMPOTENCY_STORE" != firestore ]] && { $CREATE_FIRESTORE || $FIRESTORE_DELETABLE || [[ -n "$FIRESTORE_DATABASE" ]]; }; then
  die "--firestore-database, --create-firestore-database and --firestore-deletable need --idempotency-store firestore"
fi
# The module's default: a database of the function's own, named like it, created here.
if [[ -z "$FIRESTORE_DATABASE" ]]; then
  FIRESTORE_DATABASE="$NAME"
  CREATE_FIRESTORE=true
fi
[[ "$ON_STORE_ERROR" == fail || "$ON_STORE_ERROR" == proceed ]] || die "--idempotency-on-store-error must be fail or proceed"
# bigquery is the module's alone: a dataset is made with bq, not gcloud (infra/README.md, parity table).
[[ "$AUDIT_SINK" == none || "$AUDIT_SINK" == log_bucket ]] ||
  die "--audit-sink must be none or log_bucket (bigquery: use the Terraform module)"
[[ "$AUDIT_RETENTION" =~ ^[1-9][0-9]{0,3}$ ]] || die "--audit-retention-days must be 1-3650"
((AUDIT_RETENTION <= 3650)) || die "--audit-retention-days must be 1-3650"
! $AUDIT_LOCKED || [[ "$AUDIT_SINK" == log_bucket ]] || die "--audit-locked needs --audit-sink log_bucket"
[[ -z "$AUDIT_PROJECT" || "$AUDIT_PROJECT" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "--audit-project must be a project ID"
KMS_KEY='projects/[^/,=]+/locations/[^/,=]+/keyRings/[^/,=]+/cryptoKeys/[^/,=]+'
[[ -z "$AUDIT_KMS" || "$AUDIT_KMS" =~ ^${KMS_KEY}$ ]] ||
  die "--audit-kms-key must be projects/P/locations/L/keyRings/R/cryptoKeys/K"
[[ -z "$SECRET_LOCATIONS" || "$SECRET_LOCATIONS" =~ ^[a-z0-9-]+(,[a-z0-9-]+)*$ ]] ||
  die "--secret-locations must be a comma list of locations such as europe-west1"
if [[ -n "$SECRET_KMS_KEYS" ]]; then
  [[ "$SECRET_KMS_KEYS" =~ ^[a-z0-9-]+=${KMS_KEY}(,[a-z0-9-]+=${KMS_KEY})*$ ]] ||
    die "--secret-kms-keys must be LOCATION=projects/P/locations/L/keyRings/R/cryptoKeys/K,..."
  # The module's rule: one key for each replica location, and no other location.
  key_locations="$(tr ',' '\n' <<<"$SECRET_KMS_KEYS" | cut -d= -f1 | LC_ALL=C sort | paste -sd, -)"
  [[ "$key_locations" == "$(tr ',' '\n' <<<"$SECRET_LOCATIONS" | LC_ALL=C sort | paste -sd, -)" ]] ||
    die "--secret-kms-keys needs one key for each of --secret-locations, and no other location"
fi
[[ -z "$VPC_CONNECTOR" || "$VPC_CONNECTOR" =~ ^projects/[^/]+/locations/[^/]+/connectors/[^/]+$ ]] ||
  die "--vpc-connector must be projects/P/locations/R/connectors/C"
if [[ -n "$EGRESS" ]]; then
  [[ -n "$VPC_CONNECTOR" ]] || die "--egress-settings needs --vpc-connector"
  [[ "$EGRESS" == all || "$EGRESS" == private-ranges-only ]] || die "--egress-settings must be all or private-ranges-only"
fi
[[ -z "$VPC_CONNECTOR" || -n "$EGRESS" ]] || EGRESS=all

has_iam=false has_webhook=false has_api_key=false
IFS=',' read -r -a methods <<<"$CALLER_AUTH"
((${#methods[@]} > 0)) || die "--caller-auth is empty"
for m in "${methods[@]}"; do
  case "$m" in
    iam) has_iam=true ;;
    webhook) has_webhook=true ;;
    api_key) has_api_key=true ;;
    none) die "--caller-auth none is for local runs only and is never deployed" ;;
    *) die "unknown --caller-auth method: $m (use iam, webhook, api_key)" ;;
  esac
done
# The same rule as Terraform's invoker_members: single identities and groups, never
# allUsers, allAuthenticatedUsers or domain: (--public is the one way to publish). A
# public principal set (principalSet://goog/public:...) is refused too.
for member in ${INVOKERS[@]+"${INVOKERS[@]}"}; do
  [[ "$member" =~ ^(user|serviceAccount|group|principal|principalSet):[^[:space:],\;]+$ &&
    "$member" != principalSet://goog/public:* ]] ||
    die "--invoker ${member} is refused: use IAM members such as serviceAccount:..., user:..., group:...; never a public one (--public grants allUsers, without iam)"
done
if $PUBLIC; then
  # "iam" trusts Cloud Run's check, which allUsers switches off.
  $has_iam && die "--public cannot be combined with caller-auth iam: anyone could call"
  $has_webhook || $has_api_key || die "--public needs caller-auth webhook and/or api_key"
fi
if [[ -n "$SCHEDULE" ]]; then
  if ! $has_iam || $PUBLIC; then
    die "--schedule needs caller-auth iam and no --public (Cloud Scheduler sends an OIDC token only)"
  fi
  [[ "$DNIDS" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--schedule needs --dnids as a comma list of numbers"
  # Scheduler's attempt deadline (timeout + 15 s) must stay within 15 s..30 min.
  ((TIMEOUT + 15 <= 1800)) || die "--timeout must be at most 1785 with --schedule (Cloud Scheduler waits 30 minutes at most)"
fi

# --- Helpers ----------------------------------------------------------------
show() {
  # Print a command so that it can be pasted back into a shell.
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then out+="$arg "; else out+="'${arg//\'/\'\\\'\'}' "; fi
  done
  echo "${out% }"
}
run() { if $DRY_RUN; then show "$@"; else "$@"; fi; }
# capture VAR PLACEHOLDER CMD...: VAR=$(CMD); a dry run prints the lookup and uses
# the placeholder.
capture() {
  local var="$1" placeholder="$2"
  shift 2
  if $DRY_RUN; then
    echo "${var}=\$($(show "$@"))"
    printf -v "$var" '%s' "$placeholder"
  else
    printf -v "$var" '%s' "$("$@")"
  fi
}
# exists CMD...: true if the describe command succeeds. A dry run cannot know,
# so it prints the check and assumes the resource is missing.
exists() {
  if $DRY_RUN; then echo "# unless this succeeds: $(show "$@")"; return 1; fi
  "$@" >/dev/null 2>&1
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
P=(--project="$PROJECT")
RUNTIME_SA="${NAME}-fn@${PROJECT}.iam.gserviceaccount.com"
BUILD_SA="${NAME}-build@${PROJECT}.iam.gserviceaccount.com"
INVOKER_SA="${NAME}-inv@${PROJECT}.iam.gserviceaccount.com"
REPO="${NAME}-images"
BUCKET="${PROJECT}-${NAME}-src"
HERE="${ROOT}/infra/gcloud"

# The deployable code only: never tests, the simulator, docs or local files.
SOURCE_FILES=()
while IFS= read -r file; do SOURCE_FILES+=("$file"); done < <(
  cd "$ROOT" && { echo main.py; echo requirements.txt; find function -name '*.py' -not -path '*/__pycache__/*'; } | LC_ALL=C sort
)
SOURCE_HASH="$(cd "$ROOT" && sha256sum ${SOURCE_FILES[@]+"${SOURCE_FILES[@]}"} | sha256sum | cut -c1-16)"
OBJECT="source/${NAME}-${SOURCE_HASH}.zip"

# --- 1. APIs ----------------------------------------------------------------
# The module's required_apis (infra/terraform/apis.tf) for the same features, less
# monitoring, which this script does not create (tests/infra compares the lists).
APIS=(artifactregistry cloudbuild cloudfunctions cloudresourcemanager iam logging run secretmanager storage)
[[ -z "$SCHEDULE" ]] || APIS+=(cloudscheduler)
[[ "$IDEMPOTENCY_STORE" != firestore ]] || APIS+=(firestore)
[[ -z "$VPC_CONNECTOR" ]] || APIS+=(vpcaccess)
SERVICES=()
while IFS= read -r api; do SERVICES+=("${api}.googleapis.com"); done < <(printf '%s\n' "${APIS[@]}" | LC_ALL=C sort)
run gcloud services enable ${SERVICES[@]+"${SERVICES[@]}"} "${P[@]}"

# --- 2. Service accounts ----------------------------------------------------
# The invoker exists only to sign the scheduler's OIDC tokens, as in Terraform.
ACCOUNTS=("fn:function runtime" "build:function build")
[[ -z "$SCHEDULE" ]] || ACCOUNTS+=("inv:invoker")
for pair in "${ACCOUNTS[@]}"; do
  suffix="${pair%%:*}"
  exists gcloud iam service-accounts describe "${NAME}-${suffix}@${PROJECT}.iam.gserviceaccount.com" "${P[@]}" ||
    run gcloud iam service-accounts create "${NAME}-${suffix}" --display-name="${NAME} ${pair#*:}" "${P[@]}"
done

# --- 3. Secrets: containers and per-secret access; values are added by you --
SECRETS=("${NAME}-cec-credentials")
$has_api_key && SECRETS+=("${NAME}-api-keys")
$has_webhook && SECRETS+=("${NAME}-webhook-secret")
$PLAN_TOKENS && SECRETS+=("${NAME}-plan-signing-keys")
$CALLER_POLICIES && SECRETS+=("${NAME}-caller-policies")
# Secrets read at request time (issue 14), as "SETTING SECRET FILE": with --secrets-source
# volume each is mounted at FILE and SETTING_FILE names it (Cloud Run fetches the value
# on each read, no client library on the cold path); with secret_manager SETTING_SECRET
# names its version. The same paths as the module's secret_mounts (infra/terraform/main.tf):
# one directory per secret, since a secret's mount directory can take no other secret.
READ_AT_REQUEST=("CEC_CREDENTIALS ${NAME}-cec-credentials /etc/secrets/cec/credentials.json")
$has_api_key && READ_AT_REQUEST+=("API_KEYS ${NAME}-api-keys /etc/secrets/api-keys/keys")
$PLAN_TOKENS && READ_AT_REQUEST+=("PLAN_SIGNING_KEYS ${NAME}-plan-signing-keys /etc/secrets/plan-signing-keys/keys")
$CALLER_POLICIES && READ_AT_REQUEST+=("CALLER_POLICIES ${NAME}-caller-policies /etc/secrets/caller-policies/policies.json")
REPLICATION=(--replication-policy=automatic)
[[ -z "$SECRET_LOCATIONS" ]] || REPLICATION=(--replication-policy=user-managed --locations="$SECRET_LOCATIONS")
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
if [[ -n "$SECRET_KMS_KEYS" ]]; then
  # A customer-managed key per replica takes a replication policy file
  # (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets#replication).
  replicas=""
  IFS=',' read -r -a pairs <<<"$SECRET_KMS_KEYS"
  for pair in "${pairs[@]}"; do
    replicas+="${replicas:+,}{\"location\":\"${pair%%=*}\",\"customerManagedEncryption\":{\"kmsKeyName\":\"${pair#*=}\"}}"
  done
  POLICY_FILE="${STAGE}/secret-replication.json"
  printf '{"userManaged":{"replicas":[%s]}}\n' "$replicas" >"$POLICY_FILE"
  ! $DRY_RUN || echo "# ${POLICY_FILE}: $(cat "$POLICY_FILE")"
  REPLICATION=(--replication-policy-file="$POLICY_FILE")
fi
for secret in "${SECRETS[@]}"; do
  exists gcloud secrets describe "$secret" "${P[@]}" ||
    run gcloud secrets create "$secret" "${REPLICATION[@]}" --labels=app=cec-called-routes "${P[@]}"
  run gcloud secrets add-iam-policy-binding "$secret" --member="serviceAccount:${RUNTIME_SA}" \
    --role=roles/secretmanager.secretAccessor "${P[@]}"
done

# How to add each secret's value (never through this script, nor its arguments).
add_value_command() {
  local add="gcloud secrets versions add $1 --data-file=- ${P[*]}"
  case "$1" in
    *-cec-credentials) echo "printf '{\"app_key\":\"%s\",\"app_secret\":\"%s\"}' \"\$CEC_APP_KEY\" \"\$CEC_APP_SECRET\" | ${add}" ;;
    *-api-keys) echo "${add/--data-file=-/--data-file=api-keys.txt}   # one key per line, or a JSON list" ;;
    *-webhook-secret) printf '%s\n' "python3 scripts/send_webhook.py --generate-secret | tr -d '\\n' | ${add}" ;;
    *-plan-signing-keys) echo "python3 -c 'import secrets; print(secrets.token_urlsafe(48), end=\"\")' | ${add}" ;;
    *-caller-policies) echo "${add/--data-file=-/--data-file=caller-policies.json}   # the CALLER_POLICIES JSON (README, Caller policies)" ;;
  esac
}

# Every secret needs a value before the function can use it (a mounted one, before it
# can even deploy): the first run stops here, and says exactly what to run.
EMPTY=()
for secret in "${SECRETS[@]}"; do
  VERSIONS=(gcloud secrets versions list "$secret" --filter=state:ENABLED --limit=1 --format='value(name)' "${P[@]}")
  if $DRY_RUN; then
    echo "# stops unless this prints a version: $(show "${VERSIONS[@]}")"
    echo "#   add it with: $(add_value_command "$secret")"
  elif [[ -z "$("${VERSIONS[@]}")" ]]; then
    EMPTY+=("$secret")
  fi
done
if ((${#EMPTY[@]} > 0)); then
  {
    echo "deploy.sh: stopped after creating the secrets; these have no value yet: ${EMPTY[*]+${EMPTY[*]}}"
    echo "Add each value (from the directory holding this repository), then run the same deploy.sh command again:"
    echo
    for secret in ${EMPTY[@]+"${EMPTY[@]}"}; do echo "  $(add_value_command "$secret")"; done
  } >&2
  exit 3
fi

# --- 4. Build: image repository, source bucket, build account grants --------
exists gcloud artifacts repositories describe "$REPO" --location="$REGION" "${P[@]}" ||
  run gcloud artifacts repositories create "$REPO" --repository-format=docker --location="$REGION" \
    --labels=app=cec-called-routes "${P[@]}"
# The same policies as the module's cleanup_policies (tests/infra compares them).
run gcloud artifacts repositories set-cleanup-policies "$REPO" --location="$REGION" \
  --policy="${HERE}/image-cleanup-policy.json" --no-dry-run "${P[@]}"
run gcloud artifacts repositories add-iam-policy-binding "$REPO" --location="$REGION" \
  --member="serviceAccount:${BUILD_SA}" --role=roles/artifactregistry.writer "${P[@]}"
run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${BUILD_SA}" \
  --role=roles/logging.logWriter --condition=None
exists gcloud storage buckets describe "gs://${BUCKET}" "${P[@]}" ||
  run gcloud storage buckets create "gs://${BUCKET}" --location="$REGION" --uniform-bucket-level-access \
    --public-access-prevention "${P[@]}"
# Versioning and the lifecycle rule of the module's bucket (old versions are
# rollback aids; three are kept).
run gcloud storage buckets update "gs://${BUCKET}" --versioning \
  --lifecycle-file="${HERE}/source-lifecycle.json" --update-labels=app=cec-called-routes "${P[@]}"
run gcloud storage buckets add-iam-policy-binding "gs://${BUCKET}" --member="serviceAccount:${BUILD_SA}" \
  --role=roles/storage.objectViewer "${P[@]}"
# Gen2 copies the source into gcf-v2-sources-<project number>-<region>, created on
# the first deployment, and Cloud Build reads it from there as the build account
# (hashicorp/terraform-provider-google#20571). Project-level, so it may precede the
# bucket, and narrowed to that bucket by an IAM condition on the resource name
# (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name).
capture PROJECT_NUMBER PROJECT_NUMBER gcloud projects describe "$PROJECT" --format='value(projectNumber)'
GCF_SOURCES="projects/_/buckets/gcf-v2-sources-${PROJECT_NUMBER}-${REGION}"
run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${BUILD_SA}" \
  --role=roles/storage.objectViewer \
  --condition="^;^title=gcf-v2-sources-${REGION};description=Only the bucket Cloud Functions copies this region's sources into.;expression=resource.name == \"${GCF_SOURCES}\" || resource.name.startsWith(\"${GCF_SOURCES}/\")"

# --- 4b. Idempotency store: the Firestore database, its TTL policy, the grant ---
if [[ "$IDEMPOTENCY_STORE" == firestore ]]; then
  # Delete protection unless asked: the module's delete_protection_state.
  DELETE_PROTECTION=()
  $FIRESTORE_DELETABLE || DELETE_PROTECTION=(--delete-protection)
  if $CREATE_FIRESTORE; then
    exists gcloud firestore databases describe --database="$FIRESTORE_DATABASE" "${P[@]}" ||
      run gcloud firestore databases create --database="$FIRESTORE_DATABASE" --location="$REGION" \
        --type=firestore-native ${DELETE_PROTECTION[@]+"${DELETE_PROTECTION[@]}"} "${P[@]}"
  fi
  # Firestore deletes expired records itself, and nothing queries the expiry: no
  # single-field index on it (the module's google_firestore_field, ttl_config and index_config).
  run gcloud firestore fields ttls update expires_at --collection-group="$COLLECTION" --enable-ttl \
    --database="$FIRESTORE_DATABASE" "${P[@]}"
  run gcloud firestore indexes fields update expires_at --collection-group="$COLLECTION" --disable-indexes \
    --database="$FIRESTORE_DATABASE" "${P[@]}"
  # roles/datastore.user on this database only: an IAM condition on its name, as in the module.
  DB_PATH="projects/${PROJECT}/databases/${FIRESTORE_DATABASE}"
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:${RUNTIME_SA}" \
    --role=roles/datastore.user \
    --condition="^;^title=${NAME}-idempotency-database-only;description=The idempotency store's database, no other.;expression=resource.name == \"${DB_PATH}\" || resource.name.startsWith(\"${DB_PATH}/\")"
fi

# --- 4c. Audit sink: the audit entries in a log bucket of their own ----------
# The module's audit.tf: the same bucket, lock, key, project and filter (log name too).
if [[ "$AUDIT_SINK" == log_bucket ]]; then
  AUDIT_P=(--project="${AUDIT_PROJECT:-$PROJECT}")
  AUDIT_FILTER="resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${NAME}\" AND logName=\"projects/${PROJECT}/logs/run.googleapis.com%2Fstdout\" AND labels.audit=\"cec-called-routes\" AND jsonPayload.message=\"called routes deleted\""
  CMEK=()
  [[ -z "$AUDIT_KMS" ]] || CMEK=(--cmek-kms-key-name="$AUDIT_KMS")
  exists gcloud logging buckets describe "${NAME}-audit" --location="$REGION" "${AUDIT_P[@]}" ||
    run gcloud logging buckets create "${NAME}-audit" --location="$REGION" --retention-days="$AUDIT_RETENTION" \
      --description="Audit entries of deleted CEC called routes (${NAME})." ${CMEK[@]+"${CMEK[@]}"} "${AUDIT_P[@]}"
  run gcloud logging buckets update "${NAME}-audit" --location="$REGION" --retention-days="$AUDIT_RETENTION" "${AUDIT_P[@]}"
  # Irreversible, asked for with --audit-locked; gcloud asks to confirm it, and refuses
  # ("Aborted by user") where it cannot ask (--quiet answers no): run this one interactively.
  ! $AUDIT_LOCKED || run gcloud logging buckets update "${NAME}-audit" --location="$REGION" --locked "${AUDIT_P[@]}"
  DESTINATION="logging.googleapis.com/projects/${AUDIT_PROJECT:-$PROJECT}/locations/${REGION}/buckets/${NAME}-audit"
  # A sink to a log bucket of the same project needs no grant. The filter is set on
  # every run, so an older sink gets the current one.
  SINK_FLAGS=("$DESTINATION" --log-filter="$AUDIT_FILTER" "${P[@]}")
  ! $DRY_RUN || echo "# if the sink exists, instead: $(show gcloud logging sinks update "${NAME}-audit" "${SINK_FLAGS[@]}")"
  if exists gcloud logging sinks describe "${NAME}-audit" "${P[@]}"; then
    run gcloud logging sinks update "${NAME}-audit" "${SINK_FLAGS[@]}"
  else
    run gcloud logging sinks create "${NAME}-audit" "${SINK_FLAGS[@]}"
  fi
  if [[ -n "$AUDIT_PROJECT" && "$AUDIT_PROJECT" != "$PROJECT" ]]; then
    # Another project's bucket: the sink's writer identity may write to this bucket only.
    capture WRITER "serviceAccount:SINK-WRITER-IDENTITY" gcloud logging sinks describe "${NAME}-audit" \
      --format='value(writerIdentity)' "${P[@]}"
    run gcloud projects add-iam-policy-binding "$AUDIT_PROJECT" --member="$WRITER" --role=roles/logging.bucketWriter \
      --condition="^;^title=${NAME}-audit-bucket-only;description=The audit log bucket of ${NAME}, no other.;expression=resource.name.endsWith(\"locations/${REGION}/buckets/${NAME}-audit\")"
  fi
fi

# IAM changes take time to reach every service; deploying at once can fail at
# random on a first run (the module waits the same way, with time_sleep).
run sleep "$IAM_WAIT"

# --- 5. Source: zip the allow-listed files under a content-hash name --------
if $DRY_RUN; then
  echo "# zip ${SOURCE_FILES[*]+${SOURCE_FILES[*]}} -> ${STAGE}/source.zip"
else
  (cd "$ROOT" && python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.argv[2:]:
        z.write(f)' "${STAGE}/source.zip" ${SOURCE_FILES[@]+"${SOURCE_FILES[@]}"})
fi
exists gcloud storage objects describe "gs://${BUCKET}/${OBJECT}" "${P[@]}" ||
  run gcloud storage cp "${STAGE}/source.zip" "gs://${BUCKET}/${OBJECT}" "${P[@]}"

# --- 6. The function ----------------------------------------------------------
# "^;^" makes ";" the list separator, because CALLER_AUTH itself holds commas.
ENV_VARS="^;^CALLER_AUTH=${CALLER_AUTH};CEC_BASE_URL=${CEC_BASE_URL}"
MOUNTS=()
CPU_FLAGS=()
# Cold path (issue 14): each secret read at request time as a file Cloud Run fetches
# on each read (or its version, with secret_manager), and gunicorn's THREADS equal to
# the instance's request concurrency.
for entry in "${READ_AT_REQUEST[@]}"; do
  read -r setting secret file <<<"$entry"
  case "$setting" in
    CEC_CREDENTIALS) version="$VERSION_cec_credentials" ;;
    API_KEYS) version="$VERSION_api_keys" ;;
    PLAN_SIGNING_KEYS) version="$VERSION_plan_signing_keys" ;;
    CALLER_POLICIES) version="$VERSION_caller_policies" ;;
  esac
  if [[ "$SECRETS_SOURCE" == volume ]]; then
    ENV_VARS+=";${setting}_FILE=${file}"
    MOUNTS+=("${file}=${secret}:${version}")
  else
    ENV_VARS+=";${setting}_SECRET=projects/${PROJECT}/secrets/${secret}/versions/${version}"
  fi
done
ENV_VARS+=";THREADS=${CONCURRENCY}"
((CONCURRENCY > 1)) && CPU_FLAGS+=(--cpu=1)
ENV_VARS+=";REQUEST_BUDGET_SECONDS=${BUDGET};GOOGLE_CLOUD_PROJECT=${PROJECT};LOG_LEVEL=${LOG_LEVEL}"
ENV_VARS+=";IDEMPOTENCY_STORE=${IDEMPOTENCY_STORE};IDEMPOTENCY_ON_STORE_ERROR=${ON_STORE_ERROR}"
if [[ "$IDEMPOTENCY_STORE" == firestore ]]; then
  ENV_VARS+=";IDEMPOTENCY_FIRESTORE_DATABASE=${FIRESTORE_DATABASE};IDEMPOTENCY_FIRESTORE_COLLECTION=${COLLECTION}"
fi
[[ -z "$PROTECTED" ]] || ENV_VARS+=";PROTECTED_ACCESS_CODES=${PROTECTED}"
# Written only to turn the lookup off: the code's default is on.
$LOOKUP_BEFORE_DELETE || ENV_VARS+=";CEC_LOOKUP_BEFORE_DELETE=false"
if $has_webhook; then
  MOUNTS+=("WEBHOOK_SECRET=${NAME}-webhook-secret:${VERSION_webhook}")
  [[ "$VERSION_webhook" != latest ]] ||
    echo "deploy.sh: note: WEBHOOK_SECRET follows the latest version of ${NAME}-webhook-secret; pin it with --secret-version webhook=N (Google advises pinning secrets used as environment variables)" >&2
fi
if $has_iam; then
  # Who iam accepts (function/callers/iam.py): the scheduler's invoker account and the
  # --invoker members that name one identity; an ID token names its email only, so a
  # group's members are refused (403) unless listed one by one.
  ALLOWED=""
  [[ -z "$SCHEDULE" ]] || ALLOWED="serviceAccount:${INVOKER_SA}"
  for member in ${INVOKERS[@]+"${INVOKERS[@]}"}; do
    case "$member" in
      user:* | serviceAccount:*) ALLOWED+="${ALLOWED:+,}${member}" ;;
      *) echo "deploy.sh: note: ${member%%:*} members may invoke through Cloud Run, but caller-auth iam refuses them (403) unless listed as user: or serviceAccount:" >&2 ;;
    esac
  done
  if [[ -n "$ALLOWED" ]]; then
    ENV_VARS+=";IAM_ALLOWED_PRINCIPALS=${ALLOWED}"
  else
    echo "deploy.sh: note: no --invoker user:/serviceAccount: and no --schedule: caller-auth iam refuses every caller (503 not_configured) until IAM_ALLOWED_PRINCIPALS is set" >&2
  fi
  # The URLs a token must name when Cloud Run did not check it: the cloudfunctions.net
  # URL and the deterministic run.app URL, both known before the function exists
  # (https://cloud.google.com/run/docs/triggering/https-request).
  ENV_VARS+=";IAM_AUDIENCES=https://${REGION}-${PROJECT}.cloudfunctions.net/${NAME},https://${NAME}-${PROJECT_NUMBER}.${REGION}.run.app"
fi
ENV_VARS+=";LOG_EXECUTION_ID=true" # the platform's own; declared, as in Terraform
EGRESS_FLAGS=()
[[ -z "$VPC_CONNECTOR" ]] || EGRESS_FLAGS+=(--vpc-connector="$VPC_CONNECTOR" --egress-settings="$EGRESS")
SECRET_FLAGS=()
SECRET_SPEC="" # --set-secrets takes one comma list of every mount
for mount in ${MOUNTS[@]+"${MOUNTS[@]}"}; do SECRET_SPEC+="${SECRET_SPEC:+,}${mount}"; done
[[ -z "$SECRET_SPEC" ]] || SECRET_FLAGS+=(--set-secrets="$SECRET_SPEC")

run gcloud functions deploy "$NAME" --gen2 --region="$REGION" "${P[@]}" \
  --runtime="$RUNTIME" --entry-point=delete_called_route --trigger-http --no-allow-unauthenticated \
  --source="gs://${BUCKET}/${OBJECT}" \
  --service-account="$RUNTIME_SA" \
  --build-service-account="projects/${PROJECT}/serviceAccounts/${BUILD_SA}" \
  --docker-repository="projects/${PROJECT}/locations/${REGION}/repositories/${REPO}" \
  --ingress-settings="$INGRESS" --memory="$MEMORY" --timeout="${TIMEOUT}s" \
  --min-instances="$MIN_INSTANCES" --max-instances="$MAX_INSTANCES" --concurrency="$CONCURRENCY" \
  ${CPU_FLAGS[@]+"${CPU_FLAGS[@]}"} ${EGRESS_FLAGS[@]+"${EGRESS_FLAGS[@]}"} \
  --update-labels=app=cec-called-routes \
  --set-env-vars="$ENV_VARS" ${SECRET_FLAGS[@]+"${SECRET_FLAGS[@]}"}

# --- 7. Who may invoke: this function only ---------------------------------
MEMBERS=(${INVOKERS[@]+"${INVOKERS[@]}"})
[[ -z "$SCHEDULE" ]] || MEMBERS+=("serviceAccount:${INVOKER_SA}")
$PUBLIC && MEMBERS+=(allUsers)
for member in ${MEMBERS[@]+"${MEMBERS[@]}"}; do
  run gcloud functions add-invoker-policy-binding "$NAME" --region="$REGION" --member="$member" "${P[@]}"
done

# --- 8. Optional schedule ---------------------------------------------------
if [[ -n "$SCHEDULE" ]]; then
  capture URI "https://FUNCTION-URI" gcloud functions describe "$NAME" --gen2 --region="$REGION" \
    --format='value(serviceConfig.uri)' "${P[@]}"
  # Scheduler waits longer than the function may run; audience = exact URI.
  JOB_FLAGS=(--location="$REGION" --schedule="$SCHEDULE" --time-zone="$TIME_ZONE" --uri="$URI"
    --http-method=POST --message-body="{\"dnids\":[${DNIDS}]}"
    --oidc-service-account-email="$INVOKER_SA" --oidc-token-audience="$URI"
    --attempt-deadline="$((TIMEOUT + 15))s" --max-retry-attempts=3 --min-backoff=30s --max-backoff=600s
    --max-doublings=3 "${P[@]}")
  # A dry run shows both branches: the update applies when the job exists.
  if $DRY_RUN; then
    echo "# if the job exists, instead: $(show gcloud scheduler jobs update http "${NAME}-${JOB}" "${JOB_FLAGS[@]}" --update-headers=Content-Type=application/json)"
  fi
  if exists gcloud scheduler jobs describe "${NAME}-${JOB}" --location="$REGION" "${P[@]}"; then
    run gcloud scheduler jobs update http "${NAME}-${JOB}" "${JOB_FLAGS[@]}" --update-headers=Content-Type=application/json
  else
    run gcloud scheduler jobs create http "${NAME}-${JOB}" "${JOB_FLAGS[@]}" --headers=Content-Type=application/json
  fi
fi

# Rotation: add a new version with the same commands; mounted secrets are read again
# on each request, the webhook secret at the next instance start.
echo "# Done. To rotate a secret, add a new version with the command the first run printed." >&2
