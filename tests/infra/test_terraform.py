"""Static checks of infra/terraform: the cross-references that break a deployment.

No provider can be downloaded here, so instead of `terraform validate` the module is
parsed with python-hcl2 and its references are checked against the code itself.
"""

from __future__ import annotations

import ast
import itertools
import re
import shutil
import subprocess
from typing import Any

import pytest
from pydantic import AliasChoices, SecretStr

from function.settings import SECRET_VERSION_PATTERN, Settings

from ._infra import ROOT, TF_DIR, Module, defaults, evaluate, load_module, load_tf, search, unwrap, validations

FUNCTION = "google_cloudfunctions2_function.this"
SECRET = "google_secret_manager_secret.this"
ACCESSOR = "google_secret_manager_secret_iam_member.runtime_access"
FIRESTORE_GRANT = "google_project_iam_member.runtime_firestore"

# Variables the code reads that the module deliberately leaves unset, and why.
DELIBERATELY_UNSET = {
    "CEC_APP_KEY_HEADER": "code default (app-key); omit or user-id:<id> via extra_environment_variables",
    "AUDIT_SIGNING_KEYS": "plain-text keys: the default audit key is derived from the AK/SK (docs/AUDIT_AND_UNDO.md)",
    "CEC_APP_KEY": "plain-text credential: the module mounts the secret (or names its version) instead",
    "CEC_APP_SECRET": "plain-text credential: the module mounts the secret (or names its version) instead",
    "API_KEYS": "plain-text keys: the module uses API_KEYS_FILE or API_KEYS_SECRET instead",
    "SECRET_MANAGER_ENDPOINT": "test-only override pointing at a fake Secret Manager",
    "GCP_PROJECT": "legacy alias of GOOGLE_CLOUD_PROJECT, which the module sets",
    "CEC_TOKEN_TTL_SECONDS": "tuning: code default (600 s); settable via extra_environment_variables",
    "CEC_BATCH_SIZE": "tuning: code default (1000, the API maximum); extra_environment_variables",
    "CEC_TIMEOUT_SECONDS": "tuning: code default (10 s); extra_environment_variables",
    "CEC_MAX_RETRIES": "tuning: code default (2); extra_environment_variables",
    "SECRET_CACHE_TTL_SECONDS": "tuning: code default (300 s, then a rotated secret is re-read)",
    "SECRET_TIMEOUT_SECONDS": "tuning: code default (5 s); extra_environment_variables",
    "MAX_DNIDS": "tuning: code default (10000); extra_environment_variables",
    "PUBLIC_URL": "OpenAPI servers: defaults to the host each request reached; extra_environment_variables",
    "BODY_TIMEOUT_SECONDS": "tuning: code default (5 s for the body to arrive); extra_environment_variables",
    "CEC_MAX_LOOKUP_RECORDS": "tuning: code default (20000 records per request); extra_environment_variables",
    "IDEMPOTENCY_TTL_SECONDS": "tuning: code default (3600 s); extra_environment_variables",
    "IDEMPOTENCY_MAX_ENTRIES": "tuning: code default (10000 per instance); extra_environment_variables",
    # Safeguards (issue 13): opt-in, set via extra_environment_variables (README, Plan tokens and policies).
    "PLAN_SIGNING_KEYS": "plain-text signing keys: the module uses PLAN_SIGNING_KEYS_FILE/_SECRET (plan_tokens)",
    "PLAN_MAX_ROUTES": "tuning: code default (1000 routes per plan token); extra_environment_variables",
    "CALLER_POLICIES": "the module uses CALLER_POLICIES_FILE or CALLER_POLICIES_SECRET (caller_policies = true)",
    "CEC_MAX_UPSTREAM_CALLS": "tuning: code default (300 per request); extra_environment_variables",
    "CEC_LOOKUP_CONCURRENCY": "tuning: code default (4 pages at once); extra_environment_variables",
    "IDEMPOTENCY_MAX_ENTRIES_PER_CALLER": "tuning: code default (1000 per caller, memory store)",
    "IDEMPOTENCY_STORE_TIMEOUT_SECONDS": "tuning: code default (2 s); extra_environment_variables",
    "IAM_CERTS_URL": "test-only override pointing at a local key set; Google's certificates by default",
}
# Set only in some modes; the mode condition is checked below.
CONDITIONAL = {
    "CEC_TOKEN_URL": "null when derived from CEC_BASE_URL",
    # Secrets read at request time: *_FILE with secrets_source = volume, *_SECRET with
    # secret_manager (tests/infra/test_secret_volume.py), each only in its mode.
    "CEC_CREDENTIALS_FILE": "secrets_source = volume",
    "CEC_CREDENTIALS_SECRET": "secrets_source = secret_manager",
    "API_KEYS_FILE": "api_key mode, secrets_source = volume",
    "API_KEYS_SECRET": "api_key mode, secrets_source = secret_manager",
    "PLAN_SIGNING_KEYS_FILE": "plan_tokens = true, secrets_source = volume",
    "PLAN_SIGNING_KEYS_SECRET": "plan_tokens = true, secrets_source = secret_manager",
    "CALLER_POLICIES_FILE": "caller_policies = true, secrets_source = volume",
    "CALLER_POLICIES_SECRET": "caller_policies = true, secrets_source = secret_manager",
    "IDEMPOTENCY_FIRESTORE_DATABASE": "firestore store",
    "IDEMPOTENCY_FIRESTORE_COLLECTION": "firestore store",
    "PROTECTED_ACCESS_CODES": "protected_access_codes not empty",
    "CEC_LOOKUP_BEFORE_DELETE": "lookup_before_delete = false (the code's default is true)",
    "IAM_ALLOWED_PRINCIPALS": "caller_auth has iam",
    "IAM_AUDIENCES": "caller_auth has iam",
}
# Set by the platform on every gen2 function; declared so that plans stay clean.
PLATFORM = {"LOG_EXECUTION_ID": "true"}
RUNTIMES = {"python311", "python312", "python313"}


@pytest.fixture(scope="module")
def module() -> Module:
    return load_module()


def settings_aliases() -> dict[str, str]:
    """Environment variable name -> Settings field name, from the model itself."""
    names: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            choices = [c for c in field.validation_alias.choices if isinstance(c, str)]
        else:
            choices = [field.alias] if field.alias else []
        assert choices, f"Settings.{field_name} has no environment alias"
        names.update({choice: field_name for choice in choices})
    return names


def environment_keys(module: Module) -> set[str]:
    expression = unwrap(module["locals"]["environment"])
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


def secret_env(module: Module) -> dict[str, dict[str, Any]]:
    service = module["resource"][FUNCTION]["service_config"][0]
    found = {}
    for block in service.get("dynamic", []):
        for name, body in block.items():
            if name == "secret_environment_variables":
                content = body["content"][0]
                found[content["key"]] = {"for_each": unwrap(body["for_each"]), **content}
    return found


def test_module_has_the_usual_files_and_an_example_root() -> None:
    for name in ("versions.tf", "variables.tf", "main.tf", "iam.tf", "scheduler.tf", "outputs.tf", "monitoring.tf"):
        assert (TF_DIR / name).is_file(), name
    example = TF_DIR / "examples" / "scheduled"
    assert (example / "terraform.tfvars.example").is_file()
    assert load_module(example)["module"]["called_routes"]["source"] == "../.."


def test_every_tf_file_parses() -> None:
    files = sorted(TF_DIR.rglob("*.tf"))
    assert len(files) >= 9
    for path in files:
        assert load_tf(path), path


def test_entry_point_is_the_function_main_py_exports(module: Module) -> None:
    build = module["resource"][FUNCTION]["build_config"][0]
    entry_point = build["entry_point"]
    tree = ast.parse((ROOT / "main.py").read_text(encoding="utf-8"))
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            bound.update(alias.asname or alias.name for alias in node.names)
    assert entry_point == "delete_called_route"
    assert entry_point in bound, "main.py does not define or import the entry point"
    assert defaults(module)["runtime"] == "python312"
    assert unwrap(build["runtime"]) == "var.runtime"
    (rule,) = validations(module, "runtime")
    for version in range(300, 320):
        runtime = f"python{version}"
        assert evaluate(rule, runtime=runtime) == (runtime in RUNTIMES), runtime


def test_every_variable_the_code_reads_is_set_or_deliberately_unset(module: Module) -> None:
    aliases = settings_aliases()
    set_by_module = environment_keys(module) | set(secret_env(module))
    assert set(PLATFORM) <= set_by_module
    assert re.search(r'\bLOG_EXECUTION_ID = "true"', unwrap(module["locals"]["environment"]))
    set_by_module -= set(PLATFORM)
    unknown = set_by_module - set(aliases)
    assert not unknown, f"the module sets variables the code never reads: {unknown}"
    unclassified = set(aliases) - set_by_module - set(DELIBERATELY_UNSET)
    assert not unclassified, f"read by the code but neither set nor listed as optional: {unclassified}"
    stale = set(DELIBERATELY_UNSET) & set_by_module
    assert not stale, f"listed as unset but the module sets them: {stale}"
    assert set(DELIBERATELY_UNSET) <= set(aliases), "DELIBERATELY_UNSET names a variable the code no longer reads"
    for name in (
        "CALLER_AUTH",
        "CEC_BASE_URL",
        "REQUEST_BUDGET_SECONDS",
        "GOOGLE_CLOUD_PROJECT",
    ):
        assert name in set_by_module and name not in CONDITIONAL


def test_plain_text_secrets_are_never_set_and_cannot_be_smuggled_in(module: Module) -> None:
    aliases = settings_aliases()
    secret_fields = {
        name for name, field in Settings.model_fields.items() if SecretStr in getattr(field.annotation, "__args__", ())
    }
    plain_secrets = {alias for alias, field in aliases.items() if field in secret_fields}
    assert {"CEC_APP_KEY", "CEC_APP_SECRET", "API_KEYS", "WEBHOOK_SECRET"} <= plain_secrets
    assert not plain_secrets & environment_keys(module)
    guard = validations(module, "extra_environment_variables")[0]
    for name in plain_secrets:
        assert not evaluate(guard, extra_environment_variables={name: "x"}), name
    assert evaluate(guard, extra_environment_variables={"CEC_TIMEOUT_SECONDS": "8"})
    # No secret value is ever written by Terraform.
    for path in TF_DIR.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        assert "google_secret_manager_secret_version" not in text and "secret_data" not in text, path


def test_every_secret_the_function_reads_has_its_own_accessor_binding(module: Module) -> None:
    secrets = unwrap(module["locals"]["secrets"])
    secret_keys = set(re.findall(r"\b(\w+) = \"\$\{var\.name\}", secrets))
    environment = unwrap(module["locals"]["environment"])
    # The secrets the code reads: version names (validated against the Secret Manager
    # pattern) fetched at run time, and values mounted into the environment.
    aliases = settings_aliases()
    version_refs = {
        alias
        for alias, field in aliases.items()
        if SECRET_VERSION_PATTERN in [getattr(m, "pattern", None) for m in Settings.model_fields[field].metadata]
    }
    # ...and files: the same secrets mounted as volumes (secrets_source = "volume").
    files = {alias for alias in aliases if alias.endswith("_FILE")}
    reads = version_refs | files | set(secret_env(module))
    references = {}
    for alias in sorted(reads):
        mounted = secret_env(module).get(alias)
        if mounted:
            assert unwrap(mounted["secret"]).startswith(f"{SECRET}[secret_environment_variables.value]")
            keys = re.findall(r'\["(\w+)"\]', mounted["for_each"])
        else:
            source = "secret_files" if alias in files else "secret_versions"
            keys = re.findall(rf'\b{alias} = lookup\(local\.{source}, "(\w+)", null\)', environment)
        assert len(keys) == 1, f"{alias} is not read from a module-managed secret"
        references[alias] = keys[0]
    stems = ("CEC_CREDENTIALS", "API_KEYS", "PLAN_SIGNING_KEYS", "CALLER_POLICIES")
    assert set(references) == {"WEBHOOK_SECRET", *(f"{s}_SECRET" for s in stems), *(f"{s}_FILE" for s in stems)}
    assert set(references.values()) <= secret_keys
    for stem in stems:  # a file and a version of the same secret
        assert references[f"{stem}_FILE"] == references[f"{stem}_SECRET"], stem
    # Both are built from the mounts of the secrets this deployment has, and the volumes
    # mount exactly those: the binding below, over every secret, covers each mount.
    assert f"{SECRET}[key].id" in module["locals"]["secret_versions"]
    assert "local.mounted_secrets" in module["locals"]["secret_files"]
    assert unwrap(module["locals"]["request_secrets"]).endswith("if contains(keys(local.secrets), key)]")
    (volumes,) = [
        b["secret_volumes"]
        for b in module["resource"][FUNCTION]["service_config"][0]["dynamic"]
        if "secret_volumes" in b
    ]
    assert unwrap(volumes["for_each"]) == "local.mounted_secrets"
    assert unwrap(volumes["content"][0]["secret"]) == f"{SECRET}[secret_volumes.key].secret_id"
    # A mode's secret exists exactly when the mode's variable is set.
    assert 'contains(var.caller_auth, "api_key") ? {api_keys' in secrets
    assert "var.plan_tokens ? {plan_signing_keys" in secrets
    assert "var.caller_policies ? {caller_policies" in secrets
    assert 'contains(var.caller_auth, "webhook") ? {webhook' in secrets
    assert secret_env(module)["WEBHOOK_SECRET"]["for_each"].startswith('contains(var.caller_auth, "webhook")')

    accessor = module["resource"][ACCESSOR]
    assert unwrap(accessor["for_each"]) == SECRET, "the binding must iterate over every secret"
    assert unwrap(accessor["secret_id"]) == "each.value.id"
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    runtime = unwrap(module["resource"][FUNCTION]["service_config"][0]["service_account_email"])
    assert runtime == "google_service_account.runtime.email"
    assert accessor["member"] == "serviceAccount:${google_service_account.runtime.email}"
    # ...and nowhere project-wide.
    for key, body in module["resource"].items():
        if key.startswith(("google_project_iam", "google_organization_iam", "google_folder_iam")):
            assert "secretmanager" not in str(body.get("role", "")), key
            if key == FIRESTORE_GRANT:
                continue  # the idempotency store's, pinned to its database (checked below)
            assert "google_service_account.runtime" not in str(body.get("member", "")), key


def test_scheduler_calls_the_function_uri_with_oidc_for_that_audience(module: Module) -> None:
    job = module["resource"]["google_cloud_scheduler_job.this"]
    target = job["http_target"][0]
    oidc = target["oidc_token"][0]
    uri = f"{FUNCTION}.service_config[0].uri"

    def resolve(value: str) -> str:
        expression = unwrap(value)
        if expression.startswith("local."):
            return unwrap(module["locals"][expression.removeprefix("local.")])
        return expression

    assert resolve(target["uri"]) == uri
    assert resolve(oidc["audience"]) == uri
    assert unwrap(oidc["service_account_email"]) == "google_service_account.invoker[0].email"
    invoker = module["resource"]["google_cloud_run_service_iam_member.scheduler_invoker"]
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == "serviceAccount:${google_service_account.invoker[0].email}"
    assert unwrap(invoker["service"]) == f"{FUNCTION}.name"
    # The invoker account and its binding exist only with schedules.
    assert unwrap(module["locals"]["scheduled"]) == "length(var.schedules) > 0"
    for key in ("google_service_account.invoker", "google_cloud_run_service_iam_member.scheduler_invoker"):
        assert unwrap(module["resource"][key]["count"]) == "local.scheduled ? 1 : 0", key
    assert target["http_method"] == "POST"
    assert "jsonencode({dnids = each.value.dnids})" in target["body"]
    assert job["retry_config"][0]["retry_count"]

    # attempt_deadline = timeout + margin; timeout >= budget + 5 by validation.
    margin = int(search(r"^\$\{var\.timeout_seconds \+ (\d+)\}s$", resolve(job["attempt_deadline"])).group(1))
    assert margin > 0
    timeout_rule, deadline_rule = validations(module, "timeout_seconds")
    values = defaults(module)
    assert values["timeout_seconds"] - values["request_budget_seconds"] >= 5
    assert not evaluate(timeout_rule, timeout_seconds=25, request_budget_seconds=25)
    assert evaluate(timeout_rule, timeout_seconds=30, request_budget_seconds=25)
    # Cloud Scheduler HTTP targets accept an attempt deadline of 15 s to 30 min: with
    # schedules, every allowed timeout gives a deadline inside that range.
    nightly = {"nightly": {"schedule": "0 3 * * *", "dnids": [1]}}
    for timeout in range(1, 3700):
        allowed = evaluate(timeout_rule, timeout_seconds=timeout, request_budget_seconds=1) and evaluate(
            deadline_rule, timeout_seconds=timeout, schedules=nightly
        )
        assert allowed == (6 <= timeout <= 1785), timeout
        if allowed:
            assert 15 <= timeout + margin <= 1800
    assert evaluate(deadline_rule, timeout_seconds=3600, schedules={})
    service = module["resource"][FUNCTION]["service_config"][0]
    assert unwrap(service["timeout_seconds"]) == "var.timeout_seconds"


def test_public_invoker_only_with_webhook_or_api_key(module: Module) -> None:
    public_bindings = [
        (key, body)
        for key, body in module["resource"].items()
        if "_iam_" in key and re.search(r"allUsers|allAuthenticatedUsers", str(body.get("member", body.get("members"))))
    ]
    assert [key for key, _ in public_bindings] == ["google_cloud_run_service_iam_member.public"]
    assert unwrap(public_bindings[0][1]["count"]) == "var.public_access ? 1 : 0"
    assert defaults(module)["public_access"] is False
    assert defaults(module)["caller_auth"] == ["iam"]

    rules = validations(module, "public_access")
    methods = ["iam", "webhook", "api_key"]
    for size in range(1, 4):
        for combo in itertools.combinations(methods, size):
            for public in (False, True):
                allowed = all(evaluate(r, public_access=public, caller_auth=list(combo)) for r in rules)
                expected = not public or ("iam" not in combo and bool({"webhook", "api_key"} & set(combo)))
                assert allowed == expected, (combo, public)


def test_caller_auth_none_can_never_be_deployed(module: Module) -> None:
    (rule,) = validations(module, "caller_auth")
    assert not evaluate(rule, caller_auth=["none"])
    assert not evaluate(rule, caller_auth=["iam", "none"])
    assert not evaluate(rule, caller_auth=[])
    assert evaluate(rule, caller_auth=["webhook", "api_key"])


def test_schedules_require_iam_on_a_private_function(module: Module) -> None:
    shape, auth = validations(module, "schedules")
    nightly = {"nightly": {"schedule": "0 3 * * *", "dnids": [1]}}
    assert evaluate(auth, schedules=nightly, caller_auth=["iam"], public_access=False)
    assert not evaluate(auth, schedules=nightly, caller_auth=["webhook"], public_access=False)
    assert not evaluate(auth, schedules=nightly, caller_auth=["iam"], public_access=True)
    assert evaluate(auth, schedules={}, caller_auth=["webhook"], public_access=True)
    assert evaluate(shape, schedules=nightly)
    assert not evaluate(shape, schedules={"nightly": {"schedule": "0 3 * * *", "dnids": []}})
    assert not evaluate(shape, schedules={"Bad Name": {"schedule": "0 3 * * *", "dnids": [1]}})


def test_source_zip_holds_the_deployable_code_only_and_is_named_by_hash(module: Module) -> None:
    files = unwrap(module["locals"]["source_files"])
    assert '["main.py", "requirements.txt"]' in files and '"function/**/*.py"' in files
    assert (ROOT / "requirements.txt").is_file()
    # What the deployed code imports from this repository lies inside the zip.
    local_packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for path in [ROOT / "main.py", *sorted((ROOT / "function").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in local_packages - {"function"}, f"{path.name} imports {name}, not in the zip"
    archive = module["data"]["archive_file.source"]
    assert unwrap(archive["dynamic"][0]["source"]["for_each"]) == "local.source_files"
    obj = module["resource"]["google_storage_bucket_object.source"]
    assert obj["name"] == "source/${var.name}-${local.source_hash}.zip"
    # The name comes from the files, as deploy.sh computes it (sha256sum | sha256sum),
    # not from the zip, which exists only where Terraform planned.
    source_hash = unwrap(module["locals"]["source_hash"])
    assert "filesha256(" in source_hash and "local.source_files" in source_hash and ", 0, 16)" in source_hash
    storage = module["resource"][FUNCTION]["build_config"][0]["source"][0]["storage_source"][0]
    assert unwrap(storage["object"]) == "google_storage_bucket_object.source.name"


def test_dedicated_identities_and_explicit_limits(module: Module) -> None:
    build = module["resource"][FUNCTION]["build_config"][0]
    service = module["resource"][FUNCTION]["service_config"][0]
    assert unwrap(build["service_account"]) == "google_service_account.build.id"
    for setting in (
        "ingress_settings",
        "max_instance_count",
        "max_instance_request_concurrency",
        "available_memory",
        "timeout_seconds",
    ):
        assert unwrap(service[setting]) == f"var.{setting}", setting
    for name, body in module["variable"].items():
        assert body.get("description"), f"variable {name} has no description"
        assert "type" in body, f"variable {name} has no type"
    assert {"uri", "function_name", "service_account_email", "invoker_service_account_email"} <= set(module["output"])
    # The only project-level grants: the build account's log writing and its reading of
    # the gcf-v2-sources bucket (an IAM condition narrows it to that one bucket), and the
    # runtime account's Firestore access, conditioned on the idempotency store's database
    # (Firestore has no database-level IAM resource; a condition is how it is narrowed),
    # and, with the audit bucket in another project, the sink's writer on that bucket only.
    project_grants = {k: b["role"] for k, b in module["resource"].items() if k.startswith("google_project_iam")}
    assert project_grants == {
        "google_project_iam_member.build_logs": "roles/logging.logWriter",
        "google_project_iam_member.build_gcf_sources": "roles/storage.objectViewer",
        FIRESTORE_GRANT: "roles/datastore.user",
        "google_project_iam_member.audit_bucket_writer": "roles/logging.bucketWriter",
    }
    writer = module["resource"]["google_project_iam_member.audit_bucket_writer"]
    assert writer["condition"][0]["expression"] == (
        'resource.name.endsWith("locations/${var.region}/buckets/${local.audit_bucket_id}")'
    )
    grant = module["resource"][FIRESTORE_GRANT]
    assert unwrap(grant["count"]) == "local.firestore_store ? 1 : 0"
    assert grant["member"] == "serviceAccount:${google_service_account.runtime.email}"
    expression = grant["condition"][0]["expression"]
    path = "${local.firestore_database_path}"
    assert expression == f'resource.name == "{path}" || resource.name.startsWith("{path}/")'
    assert unwrap(module["locals"]["firestore_database_path"]) == (
        "projects/${var.project_id}/databases/${local.firestore_database}"
    )
    (condition,) = module["resource"]["google_project_iam_member.build_gcf_sources"]["condition"]
    assert "projects/_/buckets/${local.gcf_sources_bucket}" in condition["expression"]
    assert unwrap(module["locals"]["gcf_sources_bucket"]) == (
        "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
    )


def test_grants_are_waited_for_and_invoker_bindings_follow_a_replaced_function(module: Module) -> None:
    wait = module["resource"]["time_sleep.iam_propagation"]
    assert wait["create_duration"] == "${var.iam_propagation_seconds}s"
    # Every grant to the accounts a deployment uses (runtime: mounted secrets; build).
    grants = {
        k
        for k, body in module["resource"].items()
        if re.match(r"google_\w+_iam_member\.", k)
        and re.search(r"google_service_account\.(runtime|build)\.", str(body.get("member")))
    }
    waited = {unwrap(d) for d in wait["depends_on"]}
    assert grants == waited, grants ^ waited
    assert [unwrap(d) for d in module["resource"][FUNCTION]["depends_on"]] == ["time_sleep.iam_propagation"]
    bindings = [k for k in module["resource"] if k.startswith("google_cloud_run_service_iam_member.")]
    assert len(bindings) == 3
    for key in bindings:
        (lifecycle,) = module["resource"][key]["lifecycle"]
        assert [unwrap(t) for t in lifecycle["replace_triggered_by"]] == [f"{FUNCTION}.id"], key


def test_provider_versions_are_pinned(module: Module) -> None:
    terraform = module["terraform"]
    providers = (
        terraform["required_providers"][0]
        if isinstance(terraform["required_providers"], list)
        else terraform["required_providers"]
    )
    assert providers["google"]["source"] == "hashicorp/google"
    assert re.fullmatch(r"~> 6\.\d+", providers["google"]["version"])
    assert re.fullmatch(r"~> 2\.\d+", providers["archive"]["version"])
    assert providers["time"]["source"] == "hashicorp/time"
    assert terraform["required_version"] == ">= 1.9"


def test_tfvars_example_sets_only_variables_of_the_example_and_passes_validation(module: Module) -> None:
    example = TF_DIR / "examples" / "scheduled"
    values = load_tf(example / "terraform.tfvars.example")
    declared = set(load_module(example)["variable"])
    assert set(values) <= declared
    assert {"project_id", "cec_base_url"} <= set(values)
    for name in ("caller_auth", "public_access", "schedules"):
        for rule in validations(module, name):
            assert evaluate(rule, **{**defaults(module), **values}), (name, rule)


def test_terraform_fmt_check() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform binary not installed; formatting is checked where it is")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ignore_file_keeps_state_and_tfvars_out_of_git() -> None:
    ignored = (TF_DIR / ".gitignore").read_text(encoding="utf-8").split()
    assert {".terraform/", "*.tfstate", "*.tfstate.*", "terraform.tfvars"} <= set(ignored)


def test_all_features_root_sets_every_module_variable(module: Module) -> None:
    """tests/infra/roots/all_features is what Terraform plans with everything on: a new
    module variable must get a value in both of its module blocks."""
    root = load_module(ROOT / "tests" / "infra" / "roots" / "all_features")
    only_scheduled = {"schedules", "scheduler_retry"}
    for instance in ("public", "scheduled"):
        arguments = set(root["module"][instance]) - {"source"}
        expected = set(module["variable"]) - (only_scheduled if instance == "public" else set())
        assert arguments == expected, (instance, expected ^ arguments)
