"""Terraform's own checks: `init`, `validate` and `plan -refresh=false` on the example and
on the all-features root for google 6.14.0 and 6.50.0, the static schema check on every
module directory, and every invalid variable combination refused by `plan`.

The providers are schema-only stand-ins (tests/infra/_terraform.py): a green plan means
the configuration is well-formed for the provider, not that `apply` succeeds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ._infra import DEPLOY_SH, ROOT, TF_DIR, search
from ._terraform import (
    MODULE_DIRS,
    ROOTS,
    VERSIONS,
    RootPlan,
    build_mirror,
    hcl,
    init_validate_plan,
    stage,
    terraform,
    tool_dir,
    venv_dir,
)

pytestmark = pytest.mark.external_tools

NIGHTLY = {"nightly": {"schedule": "0 3 * * *", "dnids": [4001]}}
BASE = {"project_id": "my-proj-123", "cec_base_url": "https://service.example.com"}


@pytest.fixture(scope="module")
def tool() -> Path:
    return tool_dir()


@pytest.fixture(scope="module")
def configs(tool: Path) -> dict[str, Path]:
    return {version: build_mirror(tool, version) for version in VERSIONS}


@pytest.fixture(scope="module", params=VERSIONS)
def planned(request: pytest.FixtureRequest, configs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    version = request.param
    repo = stage(tmp_path_factory.mktemp(f"tf-{version}"))
    return version, {name: init_validate_plan(configs[version], repo / path) for name, path in ROOTS.items()}


def _by_type(plan: RootPlan, prefix: str = "") -> Counter[str]:
    return Counter(address.split("[")[0].split(".")[-2] for address in plan.resources() if address.startswith(prefix))


def test_static_schema_check_finds_nothing_in_any_module_directory(tool: Path, configs: dict[str, Path]) -> None:
    env = {**os.environ, "TF_OFFLINE_VENV": str(venv_dir())}
    result = subprocess.run(
        ["bash", str(tool / "check.sh"), *(str(ROOT / d) for d in MODULE_DIRS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"\b\d+ finding\(s\), 0 error\(s\)", output), output
    # The one kind of note allowed: a dynamic block of a max_items = 1 block whose
    # for_each is a condition choosing [1] or [] (secret replication: auto or user-managed).
    notes = re.findall(r"^(\S+):(\d+): (\w+): (.*)$", output, flags=re.MULTILINE)
    for path, line, level, message in notes:
        assert level == "INFO" and "has max_items=1" in message, (path, line, level, message)
        block = Path(path).read_text(encoding="utf-8").splitlines()[int(line) - 1 : int(line) + 1]
        assert re.search(r"for_each = .+\? \[1\] : \[\]$", block[1]), (path, line, block)


@pytest.mark.parametrize("root", ROOTS)
def test_init_validate_and_plan_pass(planned: Any, root: str) -> None:
    version, plans = planned
    plan = plans[root]
    assert plan.ok, f"google {version}, {root}:\n{plan.log}"
    add, change, destroy = plan.summary()
    assert (change, destroy) == (0, 0)
    assert add == len(plan.resources()) > 0


BASE_APIS = {
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
}
EXAMPLE = "module.called_routes."


def _apis(plan: RootPlan, prefix: str = EXAMPLE) -> set[str]:
    return {v["service"] for a, v in plan.resources().items() if a.startswith(f"{prefix}google_project_service.")}


def test_example_plans_a_private_scheduled_function_with_monitoring(planned: Any) -> None:
    _, plans = planned
    plan = plans["example"]
    resources = plan.resources()
    types = _by_type(plan)
    assert types["google_cloudfunctions2_function"] == 1
    assert types["google_cloud_scheduler_job"] == 1
    assert types["google_service_account"] == 3  # runtime, build, invoker
    # requests, deleted_routes, duration, 4 upstream stages, partial and failed
    # requests, protected/unknown/failed/not-restorable route counts, secret versions added.
    assert types["google_logging_metric"] == 14
    # Schedules turn monitoring on without `monitoring` being set.
    assert "monitoring" not in (ROOT / ROOTS["example"] / "terraform.tfvars.example").read_text(encoding="utf-8")
    assert types["google_monitoring_alert_policy"] == 4
    assert types["google_monitoring_dashboard"] == 1
    channel = resources[f'{EXAMPLE}google_monitoring_notification_channel.email["cec-oncall@example.com"]']
    assert channel["type"] == "email" and channel["labels"] == {"email_address": "cec-oncall@example.com"}
    assert types["time_sleep"] == 1
    assert f"{EXAMPLE}google_cloud_run_service_iam_member.public[0]" not in resources
    # The audit bucket is the protected one (prevent_destroy), unlocked unless asked.
    bucket = resources[f"{EXAMPLE}google_logging_project_bucket_config.audit[0]"]
    assert (bucket["retention_days"], bucket["locked"], bucket["cmek_settings"]) == (400, False, [])
    assert f"{EXAMPLE}google_logging_project_bucket_config.audit_deletable[0]" not in resources
    assert types["google_logging_project_sink"] == 1
    # Its only caller, Cloud Scheduler in the same project, is internal traffic.
    service = resources[f"{EXAMPLE}google_cloudfunctions2_function.this"]["service_config"][0]
    assert service["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    environment = resources[f"{EXAMPLE}google_cloudfunctions2_function.this"]["service_config"][0][
        "environment_variables"
    ]
    assert environment["PROTECTED_ACCESS_CODES"] == "9911411"
    assert "CEC_LOOKUP_BEFORE_DELETE" not in environment  # the code's default: on
    assert _apis(plan) == BASE_APIS | {"cloudscheduler.googleapis.com", "monitoring.googleapis.com"}


def test_public_webhook_example_plans_every_safeguard_it_names(planned: Any) -> None:
    """The public root's own terraform.tfvars.example: webhook + API keys, allUsers, plan
    tokens, caller policies, protected hotlines, the Firestore store, the audit sink, alerts."""
    _, plans = planned
    plan = plans["public_webhook"]
    assert plan.ok, plan.log
    resources = plan.resources()
    types = _by_type(plan)
    assert resources[f"{EXAMPLE}google_cloud_run_service_iam_member.public[0]"]["member"] == "allUsers"
    secrets = {v["secret_id"] for a, v in resources.items() if ".google_secret_manager_secret.this[" in a}
    assert secrets == {
        f"cec-called-routes-{s}"
        for s in ("cec-credentials", "api-keys", "webhook-secret", "plan-signing-keys", "caller-policies")
    }
    service = resources[f"{EXAMPLE}google_cloudfunctions2_function.this"]["service_config"][0]
    environment = service["environment_variables"]
    assert environment["CALLER_AUTH"] == "webhook,api_key"
    assert environment["PROTECTED_ACCESS_CODES"] == "9911411,9911412"
    assert environment["IDEMPOTENCY_STORE"] == "firestore"
    assert environment["IDEMPOTENCY_FIRESTORE_DATABASE"] == "cec-called-routes"
    assert environment["PLAN_SIGNING_KEYS_FILE"] == "/etc/secrets/plan-signing-keys/keys"
    assert environment["CALLER_POLICIES_FILE"] == "/etc/secrets/caller-policies/policies.json"
    assert [s["key"] for s in service["secret_environment_variables"]] == ["WEBHOOK_SECRET"]
    database = resources[f"{EXAMPLE}google_firestore_database.idempotency[0]"]
    assert (database["name"], database["location_id"]) == ("cec-called-routes", "europe-west1")
    assert types["google_firestore_field"] == 1
    assert resources[f"{EXAMPLE}google_project_iam_member.runtime_firestore[0]"]["role"] == "roles/datastore.user"
    assert types["google_logging_project_bucket_config"] == 1 and types["google_logging_project_sink"] == 1
    assert f"{EXAMPLE}google_logging_project_bucket_config.audit[0]" in resources
    assert types["google_monitoring_alert_policy"] == 4 and types["google_monitoring_notification_channel"] == 1
    # The webhook secret, an environment variable, is pinned to the version the tfvars name.
    assert [(s["key"], s["version"]) for s in service["secret_environment_variables"]] == [("WEBHOOK_SECRET", "1")]
    assert service["ingress_settings"] == "ALLOW_ALL"  # webhook senders and SaaS tools call from the internet
    # The database is kept by a destroy and has delete protection.
    assert (database["deletion_policy"], database["delete_protection_state"]) == (
        "ABANDON",
        "DELETE_PROTECTION_ENABLED",
    )
    assert types["google_cloud_scheduler_job"] == 0 and types["google_service_account"] == 2
    assert _apis(plan) == BASE_APIS | {"firestore.googleapis.com", "monitoring.googleapis.com"}


def _references(module: dict[str, Any]) -> dict[str, set[str]]:
    """What each resource of the module refers to (attributes and depends_on), with
    locals resolved to the resources they name: the order Terraform creates them in."""
    pattern = re.compile(r"\b((?:google_\w+|time_sleep|data\.google_\w+)\.\w+|local\.\w+)")
    locals_ = {f"local.{name}": json.dumps(body) for name, body in module["locals"].items()}

    def direct(text: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found: set[str] = set()
        for ref in set(pattern.findall(text)) - seen:
            if ref.startswith("local."):
                found |= direct(locals_.get(ref, ""), seen | {ref})
            else:
                found.add(ref)
        return found

    return {address: direct(json.dumps(body)) - {address} for address, body in module["resource"].items()}


def test_every_resource_waits_for_the_apis_it_needs() -> None:
    """Each Google resource depends, directly or through others, on google_project_service.this,
    so a first apply on a fresh project enables an API before anything calls it."""
    from ._infra import load_module

    graph = _references(load_module(TF_DIR))
    apis = "google_project_service.this"
    assert apis in graph

    def reaches(address: str, seen: set[str]) -> bool:
        if address == apis:
            return True
        seen.add(address)
        return any(reaches(r, seen) for r in graph.get(address, set()) if r not in seen)

    waiting = [a for a in graph if a != apis and a.startswith("google_") and not reaches(a, set())]
    assert not waiting, f"created without waiting for the APIs: {waiting}"
    # The check can fail: a resource with no reference to the APIs is found.
    assert not reaches("google_storage_bucket_object.source", {"google_storage_bucket.source"})


AUDIT_KEY = "projects/cec-kms/locations/europe-west4/keyRings/cec/cryptoKeys/audit"


def test_audit_trail_options_locked_elsewhere_encrypted(planned: Any) -> None:
    """public: a locked, deletable bucket in a logging project, with a customer-managed key and
    a writer grant there on that bucket only; scheduled: a BigQuery dataset there, encrypted."""
    _, plans = planned
    resources = plans["all_features"].resources()
    bucket = resources["module.public.google_logging_project_bucket_config.audit_deletable[0]"]
    assert "module.public.google_logging_project_bucket_config.audit[0]" not in resources
    assert (bucket["project"], bucket["locked"], bucket["retention_days"]) == ("cec-audit-logs", True, 90)
    assert bucket["cmek_settings"][0]["kms_key_name"] == AUDIT_KEY
    sink = resources["module.public.google_logging_project_sink.audit_bucket[0]"]
    assert sink["project"] == "cec-plan-check"
    assert 'logName="projects/cec-plan-check/logs/run.googleapis.com%2Fstdout"' in sink["filter"]
    assert 'labels.audit="cec-called-routes"' in sink["filter"]
    writer = resources["module.public.google_project_iam_member.audit_bucket_writer[0]"]
    assert (writer["project"], writer["role"]) == ("cec-audit-logs", "roles/logging.bucketWriter")
    assert writer["condition"][0]["expression"] == (
        'resource.name.endsWith("locations/europe-west4/buckets/cec-routes-public-audit")'
    )
    dataset = resources["module.scheduled.google_bigquery_dataset.audit[0]"]
    assert dataset["project"] == "cec-audit-logs" and dataset["delete_contents_on_destroy"] is False
    assert dataset["default_encryption_configuration"][0]["kms_key_name"] == AUDIT_KEY
    assert resources["module.scheduled.google_bigquery_dataset_iam_member.audit_writer[0]"]["project"] == (
        "cec-audit-logs"
    )


def test_secret_versions_pin_what_the_function_reads(planned: Any) -> None:
    _, plans = planned
    service, _, _ = _function(plans["all_features"], "public")
    versions = {v["secret"]: v["versions"][0]["version"] for v in service["secret_volumes"]}
    assert versions == {
        "cec-routes-public-cec-credentials": "latest",
        "cec-routes-public-api-keys": "2",
        "cec-routes-public-plan-signing-keys": "latest",
        "cec-routes-public-caller-policies": "latest",
    }
    assert [s["version"] for s in service["secret_environment_variables"]] == ["3"]
    # A pinned webhook secret: no warning; the scheduled example has none to pin.
    for root in ("public_webhook", "all_features", "example"):
        assert "follows the latest version" not in " ".join(plans[root].runs[2].stdout.split()), root


def test_secret_version_alert_watches_add_secret_version_in_the_admin_activity_log(planned: Any) -> None:
    _, plans = planned
    resources = plans["public_webhook"].resources()
    metric = resources[f"{EXAMPLE}google_logging_metric.secret_versions[0]"]
    secrets = sorted(v["secret_id"] for a, v in resources.items() if ".google_secret_manager_secret.this[" in a)
    assert metric["filter"] == " AND ".join(
        [
            'logName="projects/my-project-id/logs/cloudaudit.googleapis.com%2Factivity"',
            'protoPayload.serviceName="secretmanager.googleapis.com"',
            'protoPayload.methodName="google.cloud.secretmanager.v1.SecretManagerService.AddSecretVersion"',
            f'protoPayload.resourceName=~"/secrets/({"|".join(secrets)})(/|$)"',
        ]
    )
    assert set(metric["label_extractors"]) == {"secret", "principal"}
    policy = resources[f"{EXAMPLE}google_monitoring_alert_policy.secret_versions[0]"]
    (condition,) = policy["conditions"]
    assert (
        f'metric.type="logging.googleapis.com/user/{metric["name"]}"' == condition["condition_threshold"][0]["filter"]
    )
    assert "secretVersionAdder" in policy["documentation"][0]["content"]


def test_firestore_deletion_is_asked_for(planned: Any) -> None:
    _, plans = planned
    database = plans["all_features"].resources()["module.public.google_firestore_database.idempotency[0]"]
    assert (database["deletion_policy"], database["delete_protection_state"]) == (
        "DELETE",
        "DELETE_PROTECTION_DISABLED",
    )
    # An existing database named explicitly is used, not created.
    assert "module.scheduled.google_firestore_database.idempotency[0]" not in plans["all_features"].resources()


def test_without_notification_channels_the_plan_says_nobody_is_notified(planned: Any) -> None:
    _, plans = planned
    # all_features: the scheduled instance has no channel, the public one two e-mail addresses.
    run = plans["all_features"].runs[2]
    stdout = " ".join((run.stdout + run.stderr).split())
    assert "The alert policies of cec-routes-sched notify NOBODY" in stdout
    assert "The alert policies of cec-routes-public notify NOBODY" not in stdout
    for root in ("example", "public_webhook"):
        assert "NOBODY" not in plans[root].runs[2].stdout
        outputs = plans[root].plan["planned_values"]["outputs"]
        assert outputs["alerts_notify"]["value"] == "alerts notify cec-oncall@example.com"


def test_all_features_root_turns_every_feature_on(planned: Any) -> None:
    _, plans = planned
    plan = plans["all_features"]
    resources = plan.resources()
    public = _by_type(plan, "module.public.")
    scheduled = _by_type(plan, "module.scheduled.")
    # Public webhook + API key: allUsers, every secret (see the secrets tests below), no invoker account or job.
    assert resources["module.public.google_cloud_run_service_iam_member.public[0]"]["member"] == "allUsers"
    # cec credentials, API keys, webhook secret, plan-token keys, caller policies.
    assert public["google_secret_manager_secret"] == 5 and scheduled["google_secret_manager_secret"] == 4
    assert public["google_logging_project_sink"] == 1 and public["google_logging_project_bucket_config"] == 1
    assert scheduled["google_bigquery_dataset"] == 1 and scheduled["google_bigquery_dataset_iam_member"] == 1
    assert public["google_service_account"] == 2 and public["google_cloud_scheduler_job"] == 0
    function = resources["module.public.google_cloudfunctions2_function.this"]
    service = function["service_config"][0]
    assert [s["key"] for s in service["secret_environment_variables"]] == ["WEBHOOK_SECRET"]
    assert service["max_instance_request_concurrency"] == 4 and service["available_cpu"] == "1"
    assert service["ingress_settings"] == "ALLOW_INTERNAL_AND_GCLB"
    assert service["vpc_connector"] == "projects/cec-plan-check/locations/europe-west4/connectors/cec-egress"
    assert service["vpc_connector_egress_settings"] == "PRIVATE_RANGES_ONLY"
    assert service["environment_variables"]["CEC_LOOKUP_BEFORE_DELETE"] == "false"
    assert service["environment_variables"]["PROTECTED_ACCESS_CODES"] == "9911411,99114*"
    replication = resources['module.public.google_secret_manager_secret.this["cec_credentials"]']["replication"][0]
    assert replication["auto"] == []
    assert [
        (r["location"], r["customer_managed_encryption"][0]["kms_key_name"])
        for r in replication["user_managed"][0]["replicas"]
    ] == [
        ("europe-west4", "projects/cec-kms/locations/europe-west4/keyRings/cec/cryptoKeys/secrets"),
        ("europe-west1", "projects/cec-kms/locations/europe-west1/keyRings/cec/cryptoKeys/secrets"),
    ]
    assert (
        public["google_monitoring_notification_channel"] == 2
        and scheduled["google_monitoring_notification_channel"] == 0
    )
    # enable_apis: the public instance enables them (a VPC connector adds vpcaccess), the scheduled one leaves them.
    assert "vpcaccess.googleapis.com" in _apis(plan, "module.public.") and not _apis(plan, "module.scheduled.")
    sched_replication = resources['module.scheduled.google_secret_manager_secret.this["cec_credentials"]'][
        "replication"
    ][0]
    assert sched_replication["user_managed"] == [] and len(sched_replication["auto"]) == 1
    assert function["build_config"][0]["runtime"] == "python313"
    # Scheduled: two jobs whose deadline is the timeout + 15 s, with the invoker account.
    assert scheduled["google_cloud_scheduler_job"] == 2 and scheduled["google_service_account"] == 3
    for key in ("nightly", "weekly"):
        job = resources[f'module.scheduled.google_cloud_scheduler_job.this["{key}"]']
        assert job["attempt_deadline"] == "135s"
        assert job["retry_config"][0]["retry_count"] == 5
    for module in ("public", "scheduled"):
        counts = _by_type(plan, f"module.{module}.")
        assert counts["google_logging_metric"] == 14 and counts["google_monitoring_alert_policy"] == 4
        assert counts["google_monitoring_dashboard"] == 1
        assert resources[f"module.{module}.time_sleep.iam_propagation"]["create_duration"] == "90s"
        invokers = [
            a for a in resources if a.startswith(f"module.{module}.google_cloud_run_service_iam_member.invokers")
        ]
        assert len(invokers) == 2


# The secrets read at request time (issue 14): planned instance -> (secrets_source, the
# secrets it has). public: webhook + api_key with plan_tokens and caller_policies;
# scheduled: iam + api_key with both too; the example: iam only, module defaults.
REQUEST_SECRETS = {
    "cec_credentials": ("CEC_CREDENTIALS", "/etc/secrets/cec", "credentials.json"),
    "api_keys": ("API_KEYS", "/etc/secrets/api-keys", "keys"),
    "plan_signing_keys": ("PLAN_SIGNING_KEYS", "/etc/secrets/plan-signing-keys", "keys"),
    "caller_policies": ("CALLER_POLICIES", "/etc/secrets/caller-policies", "policies.json"),
}


def _function(plan: RootPlan, module: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The planned service_config, its after_unknown, and the module's planned secrets by key."""
    address = f"module.{module}.google_cloudfunctions2_function.this"
    service = plan.resources()[address]["service_config"][0]
    unknown = plan.unknown()[address]["service_config"][0]
    prefix = f'module.{module}.google_secret_manager_secret.this["'
    secrets = {a[len(prefix) : -2]: v for a, v in plan.resources().items() if a.startswith(prefix)}
    return service, unknown, secrets


def _assert_mounted(plan: RootPlan, module: str, keys: set[str], pinned: dict[str, str] | None = None) -> None:
    service, unknown, secrets = _function(plan, module)
    versions = pinned or {}
    expected = {
        (REQUEST_SECRETS[k][1], secrets[k]["secret_id"], REQUEST_SECRETS[k][2], versions.get(k, "latest")) for k in keys
    }
    volumes = {
        (v["mount_path"], v["secret"], version["path"], version["version"])
        for v in service["secret_volumes"]
        for version in v["versions"]
    }
    assert volumes == expected and len(service["secret_volumes"]) == len(keys)
    environment = service["environment_variables"]
    for key, (stem, directory, file) in REQUEST_SECRETS.items():
        assert environment.get(f"{stem}_FILE") == (f"{directory}/{file}" if key in keys else None), (module, stem)
        assert f"{stem}_SECRET" not in environment and f"{stem}_SECRET" not in unknown["environment_variables"]
    # Every mounted secret is one the runtime account has its own accessor binding on.
    for key in keys:
        binding = plan.resources()[f'module.{module}.google_secret_manager_secret_iam_member.runtime_access["{key}"]']
        assert binding["role"] == "roles/secretmanager.secretAccessor"


def test_with_volume_every_request_time_secret_is_mounted_in_its_own_directory(planned: Any) -> None:
    _, plans = planned
    _assert_mounted(plans["all_features"], "public", set(REQUEST_SECRETS), {"api_keys": "2"})
    _assert_mounted(plans["example"], "called_routes", {"cec_credentials"})
    # The webhook secret stays a secret environment variable either way.
    service, _, _ = _function(plans["all_features"], "public")
    assert [(s["key"], s["secret"]) for s in service["secret_environment_variables"]] == [
        ("WEBHOOK_SECRET", "cec-routes-public-webhook-secret")
    ]


def test_with_secret_manager_every_request_time_secret_is_named_by_version(planned: Any) -> None:
    _, plans = planned
    service, unknown, _ = _function(plans["all_features"], "scheduled")
    assert service["secret_volumes"] == []
    environment = service["environment_variables"]
    for stem, _, _ in REQUEST_SECRETS.values():
        assert f"{stem}_FILE" not in environment, stem
        # projects/P/secrets/S/versions/latest from the secret's id: known after apply.
        assert unknown["environment_variables"].get(f"{stem}_SECRET") is True, stem


def test_both_deployment_paths_mount_the_same_secrets_at_the_same_paths(planned: Any) -> None:
    """deploy.sh mounts the AK/SK and the API keys exactly where the module mounts them, or
    names the same versions (every secret: test_deploy_sh_deploys_what_the_public_webhook_root_plans)."""
    _, plans = planned
    service, _, _ = _function(plans["all_features"], "public")
    module_mounts = {f"{v['mount_path']}/{v['versions'][0]['path']}": v["secret"] for v in service["secret_volumes"]}
    module_files = {k: v for k, v in service["environment_variables"].items() if k.endswith("_FILE")}
    for flags, source in (
        (("--name", "cec-routes-public", "--caller-auth", "webhook,api_key", "--public"), "volume"),
        (("--name", "cec-routes-sched", "--caller-auth", "iam,api_key"), "secret_manager"),
    ):
        script = subprocess.run(
            [
                *("bash", str(DEPLOY_SH), "--project", "cec-plan-check", "--cec-base-url", "https://x.example.com"),
                *flags,
                *("--secrets-source", source, "--dry-run"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert script.returncode == 0, script.stderr
        (deploy,) = [line for line in script.stdout.splitlines() if line.startswith("gcloud functions deploy ")]
        env = dict(pair.split("=", 1) for pair in search(r"--set-env-vars=\^;\^([^' ]+)", deploy).group(1).split(";"))
        secrets = re.search(r"--set-secrets=(\S+)", deploy)
        mounts = dict(m.removesuffix(":latest").split("=", 1) for m in secrets.group(1).split(",")) if secrets else {}
        file_mounts = {path: secret for path, secret in mounts.items() if path.startswith("/")}
        stems = {"CEC_CREDENTIALS", "API_KEYS"}
        if source == "volume":
            assert file_mounts == {
                p: s for p, s in module_mounts.items() if s.endswith(("-cec-credentials", "-api-keys"))
            }
            assert {k: v for k, v in env.items() if k.endswith("_FILE")} == {
                f"{s}_FILE": module_files[f"{s}_FILE"] for s in stems
            }
        else:
            _, unknown, _ = _function(plans["all_features"], "scheduled")
            named = {k for k in env if k.endswith("_SECRET")}
            assert named == {f"{s}_SECRET" for s in stems} and named <= set(unknown["environment_variables"])
            assert not file_mounts


def test_the_function_declares_log_execution_id_as_the_platform_sets_it(planned: Any) -> None:
    _, plans = planned
    for address, values in plans["all_features"].resources().items():
        if address.endswith("google_cloudfunctions2_function.this"):
            assert values["service_config"][0]["environment_variables"]["LOG_EXECUTION_ID"] == "true", address


def test_build_account_may_read_only_the_gcf_sources_bucket_of_its_region(planned: Any) -> None:
    _, plans = planned
    grant = plans["all_features"].resources()["module.scheduled.google_project_iam_member.build_gcf_sources"]
    assert grant["role"] == "roles/storage.objectViewer"
    (condition,) = grant["condition"]
    # The stand-in's data sources answer placeholders; the project number is one.
    bucket = re.fullmatch(
        r'resource\.name == "projects/_/buckets/(gcf-v2-sources-[^"]+-europe-west4)" \|\| '
        r'resource\.name\.startsWith\("projects/_/buckets/(gcf-v2-sources-[^"]+-europe-west4)/"\)',
        condition["expression"],
    )
    assert bucket and bucket.group(1) == bucket.group(2), condition


def test_both_deployment_paths_name_the_source_object_alike(planned: Any) -> None:
    _, plans = planned
    resources = plans["all_features"].resources()
    for name in ("cec-routes-public", "cec-routes-sched"):
        module = "public" if name.endswith("public") else "sched"
        object_name = next(
            v["name"] for a, v in resources.items() if a.endswith("google_storage_bucket_object.source") and module in a
        )
        script = subprocess.run(
            [
                *("bash", str(DEPLOY_SH), "--project", "cec-plan-check"),
                *("--cec-base-url", "https://x.example.com", "--name", name, "--dry-run"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert f"gs://cec-plan-check-{name}-src/{object_name} " in script.stdout, (object_name, script.stderr)


def test_dashboard_is_valid_json_and_every_tile_is_documented(planned: Any) -> None:
    _, plans = planned
    dashboard = plans["example"].resources()["module.called_routes.google_monitoring_dashboard.this[0]"]
    document = json.loads(dashboard["dashboard_json"])
    titles = [tile["widget"]["title"] for tile in document["mosaicLayout"]["tiles"]]
    readme = (ROOT / "infra" / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Dashboard tiles", 1)[1].split("\n#", 1)[0]
    documented = re.findall(r"^\| ([^|]+?) \|", section, flags=re.MULTILINE)[2:]  # skip header and rule
    assert sorted(titles) == sorted(documented)
    metric_names = {
        v["name"] for a, v in plans["example"].resources().items() if a.split(".")[-1].startswith("google_logging")
    }
    queries = json.dumps(document)
    for name in metric_names:
        as_promql = re.sub(r"[^A-Za-z0-9_]", "_", name)
        assert f"logging.googleapis.com/user/{name}" in queries or as_promql in queries, name


def test_alerts_watch_upstream_auth_failures_and_5xx_on_the_requests_metric(planned: Any) -> None:
    _, plans = planned
    resources = plans["example"].resources()
    requests = resources["module.called_routes.google_logging_metric.requests[0]"]
    assert set(requests["label_extractors"]) == {"status", "code", "outcome", "caller"}
    auth = resources["module.called_routes.google_monitoring_alert_policy.upstream_auth_failed[0]"]
    errors = resources["module.called_routes.google_monitoring_alert_policy.server_errors[0]"]
    for policy, needle in ((auth, 'metric.label.code="upstream_auth_failed"'), (errors, "5[0-9][0-9]")):
        (condition,) = policy["conditions"]
        flt = condition["condition_threshold"][0]["filter"]
        assert f'metric.type="logging.googleapis.com/user/{requests["name"]}"' in flt
        assert needle in flt


# --- Invalid combinations: each refused by `plan`, for its own reason ------------------
# Every validation that relates two or more variables (and the runtime list the issue
# named) goes through a real plan; each plan starts the providers (about 3 s of CPU),
# so single-variable ranges stay with the python-hcl2 evaluator in test_terraform.py.

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "caller_auth_none": ({"caller_auth": ["iam", "none"]}, '"none" is never deployed'),
    "public_with_iam": ({"public_access": True}, "public_access = true needs caller_auth"),
    "public_with_iam_and_webhook": (
        {"public_access": True, "caller_auth": ["iam", "webhook"]},
        "public_access = true needs caller_auth",
    ),
    "schedules_without_iam": ({"caller_auth": ["webhook"], "schedules": NIGHTLY}, "schedules need caller_auth"),
    "schedules_on_public": (
        {"caller_auth": ["webhook"], "public_access": True, "schedules": NIGHTLY},
        "schedules need caller_auth",
    ),
    "scheduler_deadline_over_30_min": ({"timeout_seconds": 1786, "schedules": NIGHTLY}, "at most 1785"),
    "timeout_not_above_budget": (
        {"timeout_seconds": 44, "request_budget_seconds": 40},
        "at least request_budget_seconds + 5",
    ),
    "concurrency_without_a_cpu": ({"max_instance_request_concurrency": 4}, "above 1 only with available_cpu >= 1"),
    "runtime_python314": ({"runtime": "python314"}, "runtime must be python311, python312 or python313"),
    "plain_secret_in_environment": ({"extra_environment_variables": {"CEC_APP_SECRET": "x"}}, "must not set secrets"),
    "monitoring_channel_id": ({"monitoring": {"notification_channels": ["email:me"]}}, "notification_channels ids"),
    "locked_without_a_bucket": ({"audit_locked": True, "audit_sink": "bigquery"}, "audit_locked needs audit_sink"),
    "secret_key_for_another_location": (
        {
            "secret_replica_locations": ["europe-west1"],
            "secret_kms_key_names": {"europe-west4": "projects/k/locations/europe-west4/keyRings/r/cryptoKeys/c"},
        },
        "one key for each of secret_replica_locations",
    ),
}
# Accepted: the oldest runtime, a deadline of exactly 30 min, monitoring with defaults.
VALID = {"runtime": "python311", "timeout_seconds": 1785, "schedules": NIGHTLY, "monitoring": {}}


def _probe(config: Path, directory: Path, overrides: dict[str, Any]) -> tuple[int, str]:
    directory.mkdir(parents=True)
    arguments = "\n".join(f"  {key} = {hcl(value)}" for key, value in {**BASE, **overrides}.items())
    (directory / "main.tf").write_text(
        'module "m" {\n  source = "../../infra/terraform"\n' + arguments + "\n}\n", encoding="utf-8"
    )
    init = terraform(config, directory, "init", "-no-color", "-input=false")
    if init.returncode != 0:
        return init.returncode, init.output
    plan = terraform(config, directory, "plan", "-refresh=false", "-no-color", "-input=false", "-lock=false")
    # Terraform wraps messages at the terminal width: compare on single spaces.
    return plan.returncode, " ".join(plan.output.split())


@pytest.fixture(scope="module")
def refusals(configs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Every case and a valid control, planned with the newest provider (validations are
    Terraform's, the same for every provider version), three at a time."""
    repo = stage(tmp_path_factory.mktemp("tf-invalid"))
    config = configs[VERSIONS[-1]]
    cases = {
        "valid_control": VALID,
        "firestore_by_default": {"idempotency_store": "firestore"},
        "webhook_unpinned": {"caller_auth": ["webhook"]},
        **{name: overrides for name, (overrides, _) in INVALID.items()},
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_probe, config, repo / "probes" / name, o) for name, o in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def test_the_control_combination_plans(refusals: dict[str, tuple[int, str]]) -> None:
    code, output = refusals["valid_control"]
    assert code == 0, output
    assert "to add, 0 to change, 0 to destroy" in output


def test_the_module_defaults_give_the_function_a_database_and_an_audit_bucket_of_its_own(
    refusals: dict[str, tuple[int, str]],
) -> None:
    """Module defaults (only idempotency_store = "firestore" set): a database named like the
    function, created with delete protection and kept by a destroy, the grant conditioned on
    it; the audit sink on, to a protected log bucket whose filter names the log."""
    code, output = refusals["firestore_by_default"]
    assert code == 0, output
    for expected in (
        "# module.m.google_firestore_database.idempotency[0] will be created",
        '+ name = "cec-called-routes"',
        '+ deletion_policy = "ABANDON"',
        '+ delete_protection_state = "DELETE_PROTECTION_ENABLED"',
        'resource.name == \\"projects/my-proj-123/databases/cec-called-routes\\"',
        "# module.m.google_logging_project_bucket_config.audit[0] will be created",
        "# module.m.google_logging_project_sink.audit_bucket[0] will be created",
        'logName=\\"projects/my-proj-123/logs/run.googleapis.com%2Fstdout\\"',
        '+ ingress_settings = "ALLOW_ALL"',
    ):
        assert expected in output, expected


def test_plan_warns_while_the_webhook_secret_follows_latest(refusals: dict[str, tuple[int, str]]) -> None:
    """The warning the example roots must not show (test_secret_versions_pin_what_the_function_reads)."""
    code, output = refusals["webhook_unpinned"]
    assert code == 0, output
    assert "Warning: Check block assertion failed" in output
    assert "WEBHOOK_SECRET of cec-called-routes follows the latest version of its secret" in output


@pytest.mark.parametrize("case", INVALID)
def test_each_invalid_combination_is_refused_by_plan(refusals: dict[str, tuple[int, str]], case: str) -> None:
    code, output = refusals[case]
    expected = INVALID[case][1]
    assert code == 1, output
    assert "Invalid value for variable" in output, output
    assert expected in output, output


def test_every_cross_variable_validation_has_a_refusal_case() -> None:
    """A new validation relating two variables without a case here would go untested."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(TF_DIR.glob("*.tf")))
    blocks = re.findall(r'validation \{\s*(.*?)error_message\s*=\s*"((?:[^"\\]|\\.)*)"', text, flags=re.DOTALL)
    crossing = [message for body, message in blocks if len(set(re.findall(r"\bvar\.(\w+)", body))) > 1]
    assert len(crossing) >= 5, crossing
    expected = [fragment for _, fragment in INVALID.values()]
    missing = [m for m in crossing if not any(f in m.replace('\\"', '"') for f in expected)]
    assert not missing, f"no refusal case in INVALID for: {missing}"


# --- deploy.sh against the public webhook root ------------------------------------------


def _deploy_flags(tfvars: dict[str, Any]) -> list[str]:
    """The deploy.sh options for the public webhook root's feature set, from its tfvars."""
    flags = ["--project", tfvars["project_id"], "--cec-base-url", tfvars["cec_base_url"], "--region", tfvars["region"]]
    flags += ["--caller-auth", ",".join(tfvars["caller_auth"]), "--public"]
    flags += ["--plan-tokens"] if tfvars["plan_tokens"] else []
    flags += ["--caller-policies"] if tfvars["caller_policies"] else []
    flags += ["--protected-access-codes", ",".join(tfvars["protected_access_codes"])]
    flags += [
        "--idempotency-store",
        tfvars["idempotency_store"],
        "--firestore-database",
        tfvars["firestore_database_name"],
    ]
    flags += ["--create-firestore-database"] if tfvars["create_firestore_database"] else []
    flags += ["--audit-sink", tfvars["audit_sink"]]
    for secret, version in tfvars.get("secret_versions", {}).items():
        flags += ["--secret-version", f"{secret}={version}"]
    return flags


def _grants_in_plan(plan: RootPlan, prefix: str) -> set[tuple[str, str, str, str]]:
    """(scope, role, grantee, condition title) of every IAM grant the root plans."""
    module = plan.plan["configuration"]["root_module"]["module_calls"]["called_routes"]["module"]
    grantee_of = {}
    for resource in module["resources"]:
        references = " ".join(resource.get("expressions", {}).get("member", {}).get("references", []))
        found = re.search(r"google_service_account\.(runtime|build|invoker)", references)
        grantee_of[resource["address"]] = found.group(1) if found else ""
    resources = plan.resources()
    grants = set()
    for address, values in resources.items():
        if not address.startswith(prefix) or "_iam_member." not in address:
            continue
        local = address.removeprefix(prefix)
        kind = local.split(".")[0]
        grantee = values.get("member") if values.get("member") == "allUsers" else grantee_of[local.split("[")[0]]
        scope = {
            "google_project_iam_member": "project",
            "google_artifact_registry_repository_iam_member": "repository",
            "google_storage_bucket_iam_member": "bucket",
            "google_cloud_run_service_iam_member": "service",
        }.get(kind, "")
        if kind == "google_secret_manager_secret_iam_member":
            key = local.split("[", 1)[1]
            scope = "secret:" + resources[f"{prefix}google_secret_manager_secret.this[{key}"]["secret_id"]
        title = values["condition"][0]["title"] if values.get("condition") else ""
        grants.add((scope, values["role"], str(grantee), title))
    return grants


def _grants_in_script(output: str) -> set[tuple[str, str, str, str]]:
    grants = set()
    for line in output.splitlines():
        if not line.startswith("gcloud ") or "policy-binding" not in line:
            continue
        words = shlex.split(line)
        options = dict(w[2:].split("=", 1) for w in words if w.startswith("--") and "=" in w)
        scope = {
            ("projects", "add-iam-policy-binding"): "project",
            ("artifacts", "repositories"): "repository",
            ("storage", "buckets"): "bucket",
            ("functions", "add-invoker-policy-binding"): "service",
        }.get((words[1], words[2]), "")
        if words[1:3] == ["secrets", "add-iam-policy-binding"]:
            scope = f"secret:{words[3]}"
        member = options["member"]
        grantee = {"-fn@": "runtime", "-build@": "build", "-inv@": "invoker"}
        who = next((g for marker, g in grantee.items() if marker in member), member)
        title = re.search(r"title=([^;]+)", options.get("condition", ""))
        role = options.get("role", "roles/run.invoker")
        grants.add((scope, role, who, title.group(1) if title else ""))
    assert all(g[0] for g in grants), grants
    return grants


def test_deploy_sh_deploys_what_the_public_webhook_root_plans(planned: Any) -> None:
    """The same feature set by both paths: environment, secrets and how they are mounted,
    IAM grants, APIs (less monitoring, which deploy.sh does not create), sizing."""
    from ._infra import load_tf

    _, plans = planned
    plan = plans["public_webhook"]
    tfvars = load_tf(ROOT / ROOTS["public_webhook"] / "terraform.tfvars.example")
    script = subprocess.run(
        ["bash", str(DEPLOY_SH), *_deploy_flags(tfvars), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    (deploy,) = [
        shlex.split(line) for line in script.stdout.splitlines() if line.startswith("gcloud functions deploy ")
    ]
    options = dict(w[2:].split("=", 1) for w in deploy if w.startswith("--") and "=" in w)
    env = dict(pair.split("=", 1) for pair in options["set-env-vars"].removeprefix("^;^").split(";"))
    mounts = dict(m.split("=", 1) for m in options["set-secrets"].split(","))

    function = plan.resources()[f"{EXAMPLE}google_cloudfunctions2_function.this"]
    service = function["service_config"][0]
    assert env == service["environment_variables"]
    planned_mounts = {
        f"{v['mount_path']}/{v['versions'][0]['path']}": f"{v['secret']}:{v['versions'][0]['version']}"
        for v in service["secret_volumes"]
    }
    planned_mounts |= {s["key"]: f"{s['secret']}:{s['version']}" for s in service["secret_environment_variables"]}
    assert mounts == planned_mounts and len(mounts) == 5
    assert mounts["WEBHOOK_SECRET"].endswith(":1")  # pinned by both paths
    assert _grants_in_script(script.stdout) == _grants_in_plan(plan, EXAMPLE)
    (enable,) = [shlex.split(line) for line in script.stdout.splitlines() if line.startswith("gcloud services enable ")]
    assert {w for w in enable if w.endswith(".googleapis.com")} == _apis(plan) - {"monitoring.googleapis.com"}
    assert options["memory"] == service["available_memory"]
    assert int(options["max-instances"]) == service["max_instance_count"]
    assert int(options["min-instances"]) == service["min_instance_count"]
    assert options["ingress-settings"] == service["ingress_settings"].removeprefix("ALLOW_").lower().replace("_", "-")
    assert options["timeout"] == f"{service['timeout_seconds']}s"
    # What deploy.sh creates for the store and the audit trail, by the module's names.
    database = plan.resources()[f"{EXAMPLE}google_firestore_database.idempotency[0]"]["name"]
    assert f"gcloud firestore databases create --database={database} " in script.stdout
    assert "--delete-protection " in script.stdout
    bucket = plan.resources()[f"{EXAMPLE}google_logging_project_bucket_config.audit[0]"]
    assert f"gcloud logging buckets create {bucket['bucket_id']} --location={bucket['location']} " in script.stdout
    sink = plan.resources()[f"{EXAMPLE}google_logging_project_sink.audit_bucket[0]"]
    assert f"gcloud logging sinks create {sink['name']} " in script.stdout
    assert shlex.quote(f"--log-filter={sink['filter']}") in script.stdout


def test_deploy_sh_enables_the_apis_the_scheduled_root_plans(planned: Any) -> None:
    """The same list by both paths for a scheduled function (monitoring aside: deploy.sh
    creates none)."""
    from ._infra import load_tf

    _, plans = planned
    tfvars = load_tf(ROOT / ROOTS["example"] / "terraform.tfvars.example")
    script = subprocess.run(
        [
            *("bash", str(DEPLOY_SH), "--project", tfvars["project_id"], "--cec-base-url", tfvars["cec_base_url"]),
            *("--schedule", "0 3 * * *", "--dnids", "4001", "--dry-run"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    (enable,) = [shlex.split(line) for line in script.stdout.splitlines() if line.startswith("gcloud services enable ")]
    enabled = {w for w in enable if w.endswith(".googleapis.com")}
    assert enabled == _apis(plans["example"]) - {"monitoring.googleapis.com"}
    assert "cloudscheduler.googleapis.com" in enabled


# --- terraform destroy and the audit bucket ---------------------------------------------


def _bucket_state(address: str) -> str:
    """A state holding one audit bucket, as an apply of the module would leave it."""
    module, kind, name = address.rsplit(".", 2)
    instance = {
        "index_key": 0,
        "schema_version": 0,
        "attributes": {
            "id": "projects/my-project-id/locations/europe-west1/buckets/cec-called-routes-audit",
            "project": "my-project-id",
            "location": "europe-west1",
            "bucket_id": "cec-called-routes-audit",
            "retention_days": 400,
        },
    }
    resource = {
        "module": module,
        "mode": "managed",
        "type": kind,
        "name": name.removesuffix("[0]"),
        "provider": 'provider["registry.terraform.io/hashicorp/google"]',
        "instances": [instance],
    }
    state = {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": 1,
        "lineage": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
    }
    return json.dumps({**state, "outputs": {}, "resources": [resource]})


def test_terraform_destroy_refuses_to_delete_the_protected_audit_bucket(
    configs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With the default audit_bucket_prevent_destroy, a destroy plan that would delete the
    bucket fails and destroys nothing; `terraform state rm` (keeping the bucket) lets the
    rest go. With audit_bucket_prevent_destroy = false the bucket is an ordinary resource."""
    config = configs[VERSIONS[-1]]
    repo = stage(tmp_path_factory.mktemp("tf-destroy"))
    root = repo / ROOTS["example"]
    assert terraform(config, root, "init", "-no-color", "-input=false").returncode == 0
    protected = f"{EXAMPLE}google_logging_project_bucket_config.audit[0]"
    (root / "terraform.tfstate").write_text(_bucket_state(protected), encoding="utf-8")
    destroy = ("plan", "-destroy", "-refresh=false", "-no-color", "-input=false")
    refused = terraform(config, root, *destroy)
    text = " ".join(refused.output.split())
    assert refused.returncode == 1 and "Error: Instance cannot be destroyed" in text, refused.output
    assert "has lifecycle.prevent_destroy set" in text

    removed = terraform(config, root, "state", "rm", "-no-color", protected)
    assert removed.returncode == 0, removed.output
    emptied = terraform(config, root, *destroy)
    assert emptied.returncode == 0 and "No changes" in emptied.stdout, emptied.output

    plain = f"{EXAMPLE}google_logging_project_bucket_config.audit_deletable[0]"
    (root / "terraform.tfstate").write_text(_bucket_state(plain), encoding="utf-8")
    with (root / "terraform.tfvars").open("a", encoding="utf-8") as tfvars:
        tfvars.write("audit_bucket_prevent_destroy = false\n")
    deleted = terraform(config, root, *destroy)
    assert deleted.returncode == 0, deleted.output
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in deleted.stdout


def test_the_documented_deploy_sh_line_matches_the_scheduled_example(planned: Any) -> None:
    """docs/DEPLOY.md says its deploy.sh line does what the scheduled example does (alerts
    aside): the same ingress, protected hotlines, audit bucket and sink filter."""
    _, plans = planned
    text = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    line = search(r"`(infra/gcloud/deploy\.sh --project PROJECT [^`]*--schedule[^`]*)`", text).group(1)
    words = [{"PROJECT": "my-project-id", "URL": "https://service.besclouds.com"}.get(w, w) for w in shlex.split(line)]
    script = subprocess.run(
        ["bash", str(ROOT / words[0]), *words[1:], "--dry-run"], capture_output=True, text=True, timeout=60, check=False
    )
    assert script.returncode == 0, script.stderr
    (deploy,) = [shlex.split(x) for x in script.stdout.splitlines() if x.startswith("gcloud functions deploy ")]
    options = dict(w[2:].split("=", 1) for w in deploy if w.startswith("--") and "=" in w)
    resources = plans["example"].resources()
    service = resources[f"{EXAMPLE}google_cloudfunctions2_function.this"]["service_config"][0]
    assert options["ingress-settings"] == service["ingress_settings"].removeprefix("ALLOW_").lower().replace("_", "-")
    env = dict(pair.split("=", 1) for pair in options["set-env-vars"].removeprefix("^;^").split(";"))
    assert env["PROTECTED_ACCESS_CODES"] == service["environment_variables"]["PROTECTED_ACCESS_CODES"]
    sink = resources[f"{EXAMPLE}google_logging_project_sink.audit_bucket[0]"]
    assert shlex.quote(f"--log-filter={sink['filter']}") in script.stdout
