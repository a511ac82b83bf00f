"""infra/gcloud/deploy.sh: shellcheck-clean, and its --dry-run output says the right things."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from function.settings import Settings

from ._infra import DEPLOY_SH, ROOT, search, tool

BASE = ["--project", "my-proj-123", "--cec-base-url", "https://service.example.com"]
RUNTIME_SA = "cec-called-routes-fn@my-proj-123.iam.gserviceaccount.com"
KEY_EW1 = "projects/kms-proj/locations/europe-west1/keyRings/cec/cryptoKeys/secrets"
KEY_EW4 = "projects/kms-proj/locations/europe-west4/keyRings/cec/cryptoKeys/secrets"


def dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A gcloud that leaves a mark if anything calls it: a dry run must not.
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "gcloud").write_text(f"#!/bin/sh\ntouch {tmp_path}/gcloud-called\nexit 1\n")
    (fake / "gcloud").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(DEPLOY_SH), *args, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert not (tmp_path / "gcloud-called").exists(), "--dry-run ran gcloud"
    return result


def commands(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(prefix)]


@pytest.mark.external_tools
def test_shellcheck_is_clean() -> None:
    shellcheck = tool("SHELLCHECK_BIN", "shellcheck", "apt-get install -y shellcheck")
    result = subprocess.run([shellcheck, "-x", str(DEPLOY_SH)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_is_strict_and_executable() -> None:
    text = DEPLOY_SH.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text.splitlines()[:10]
    assert os.access(DEPLOY_SH, os.X_OK)


def test_default_dry_run_deploys_a_private_function(tmp_path: Path) -> None:
    result = dry_run(tmp_path, *BASE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    (deploy,) = commands(out, "gcloud functions deploy ")
    assert "--entry-point=delete_called_route" in deploy
    assert "--no-allow-unauthenticated" in deploy and "--gen2" in deploy
    assert "--runtime=python312 " in deploy
    assert f"--service-account={RUNTIME_SA}" in deploy
    assert "allUsers" not in out and "allAuthenticatedUsers" not in out
    # The AK/SK secret is mounted as a file (issue 14), nothing else.
    assert "--set-secrets=/etc/secrets/cec/credentials.json=cec-called-routes-cec-credentials:latest " in deploy + " "

    # Every variable it sets is one the code reads.
    env = search(r"--set-env-vars=\^;\^([^' ]+)", deploy).group(1)
    names = {pair.split("=", 1)[0] for pair in env.split(";")}
    assert "LOG_EXECUTION_ID=true" in env.split(";")  # the platform's own, declared as in Terraform
    names.discard("LOG_EXECUTION_ID")
    aliases = {f.alias for f in Settings.model_fields.values() if f.alias} | {"GOOGLE_CLOUD_PROJECT"}
    assert names <= aliases, names - aliases
    assert {
        "CALLER_AUTH",
        "CEC_BASE_URL",
        "CEC_CREDENTIALS_FILE",
        "REQUEST_BUDGET_SECONDS",
        "GOOGLE_CLOUD_PROJECT",
        "THREADS",
    } <= names
    assert "CALLER_AUTH=iam;" in env
    assert "CEC_CREDENTIALS_SECRET" not in names
    assert "THREADS=1;" in env and "--concurrency=1 " in deploy

    # The runtime account may read exactly the credentials secret.
    bindings = commands(out, "gcloud secrets add-iam-policy-binding ")
    assert len(bindings) == 1 and "cec-called-routes-cec-credentials " in bindings[0]
    assert f"--member=serviceAccount:{RUNTIME_SA}" in bindings[0]
    assert "--role=roles/secretmanager.secretAccessor" in bindings[0]
    assert "CEC_CREDENTIALS_FILE=/etc/secrets/cec/credentials.json" in env
    # No schedule: no invoker account, and nobody but invoker_members may call.
    assert "cec-called-routes-inv" not in out
    assert not commands(out, "gcloud functions add-invoker-policy-binding ")


def test_secret_manager_source_and_concurrency_are_chosen_by_flags(tmp_path: Path) -> None:
    result = dry_run(
        tmp_path, *BASE, "--caller-auth", "iam,api_key", "--secrets-source", "secret_manager", "--concurrency", "8"
    )
    assert result.returncode == 0, result.stderr
    (deploy,) = commands(result.stdout, "gcloud functions deploy ")
    env = search(r"--set-env-vars=\^;\^([^' ]+)", deploy).group(1).split(";")
    # Every secret read at request time is named by version for the client library.
    assert (
        "CEC_CREDENTIALS_SECRET=projects/my-proj-123/secrets/cec-called-routes-cec-credentials/versions/latest" in env
    )
    assert "API_KEYS_SECRET=projects/my-proj-123/secrets/cec-called-routes-api-keys/versions/latest" in env
    assert not [pair for pair in env if pair.split("=", 1)[0].endswith("_FILE")]
    assert "--set-secrets" not in deploy
    # Nothing is mounted, yet the run stops until each secret has a value: the function
    # could not use one without it.
    stops = [line for line in result.stdout.splitlines() if line.startswith("# stops unless")]
    assert len(stops) == 2 and all("gcloud secrets versions list" in line for line in stops)
    # gunicorn's threads match the requests Cloud Run sends one instance.
    assert "THREADS=8" in env and "--concurrency=8 " in deploy and "--cpu=1 " in deploy
    for bad in (
        ["--secrets-source", "env"],
        ["--credentials-source", "volume"],  # renamed before any release: no alias
        ["--concurrency", "0"],
        ["--concurrency", "x"],
    ):
        refused = dry_run(tmp_path, *BASE, *bad)
        assert refused.returncode == 2 and "gcloud " not in refused.stdout, bad


def test_dry_run_is_idempotent_by_construction(tmp_path: Path) -> None:
    out = dry_run(tmp_path, *BASE).stdout.splitlines()
    creates = [i for i, line in enumerate(out) if re.match(r"gcloud \S+( \S+)? create ", line)]
    assert len(creates) >= 5
    for index in creates:
        assert out[index - 1].startswith("# unless this succeeds: ") and " describe " in out[index - 1], out[index]


def test_source_object_is_named_by_the_hash_of_the_deployable_files(tmp_path: Path) -> None:
    files = sorted(
        [
            "main.py",
            "requirements.txt",
            *(str(p.relative_to(ROOT)) for p in (ROOT / "function").rglob("*.py") if "__pycache__" not in p.parts),
        ]
    )
    listing = "".join(f"{hashlib.sha256((ROOT / f).read_bytes()).hexdigest()}  {f}\n" for f in files)
    digest = hashlib.sha256(listing.encode()).hexdigest()[:16]
    out = dry_run(tmp_path, *BASE).stdout
    assert f"--source=gs://my-proj-123-cec-called-routes-src/source/cec-called-routes-{digest}.zip" in out
    (zip_line,) = commands(out, "# zip ")
    zipped = zip_line.removeprefix("# zip ").split(" -> ")[0].split()
    assert zipped == files
    assert not [f for f in zipped if f.startswith(("tests/", "cec_sim/", "infra/", "scripts/"))]


def test_public_webhook_mode_mounts_the_secrets_and_grants_all_users(tmp_path: Path) -> None:
    result = dry_run(tmp_path, *BASE, "--caller-auth", "webhook,api_key", "--public")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    (deploy,) = commands(out, "gcloud functions deploy ")
    mounts = search(r"--set-secrets=(\S+)", deploy).group(1).split(",")
    # Every secret read at request time as a file in a directory of its own (the
    # module's paths), the webhook secret as an environment variable.
    assert sorted(mounts) == [
        "/etc/secrets/api-keys/keys=cec-called-routes-api-keys:latest",
        "/etc/secrets/cec/credentials.json=cec-called-routes-cec-credentials:latest",
        "WEBHOOK_SECRET=cec-called-routes-webhook-secret:latest",
    ]
    env = search(r"--set-env-vars=\^;\^([^' ]+)", deploy).group(1).split(";")
    assert "API_KEYS_FILE=/etc/secrets/api-keys/keys" in env
    assert "CEC_CREDENTIALS_FILE=/etc/secrets/cec/credentials.json" in env
    assert not [pair for pair in env if pair.split("=", 1)[0].endswith("_SECRET")]
    bound = {line.split()[3] for line in commands(out, "gcloud secrets add-iam-policy-binding ")}
    mounted = {re.sub(r":latest$", "", m.split("=", 1)[1]) for m in mounts}
    assert (
        bound
        == mounted
        == {
            "cec-called-routes-cec-credentials",
            "cec-called-routes-api-keys",
            "cec-called-routes-webhook-secret",
        }
    )
    # A mounted secret without a version fails the deploy: the script checks each first.
    checked = set(re.findall(r"^# stops unless this prints a version: gcloud secrets versions list (\S+) ", out, re.M))
    assert checked == mounted
    assert any("--member=allUsers" in line for line in commands(out, "gcloud functions add-invoker-policy-binding "))


def test_schedule_uses_oidc_with_the_function_uri_as_audience(tmp_path: Path) -> None:
    result = dry_run(tmp_path, *BASE, "--schedule", "0 3 * * *", "--dnids", "4001,4002", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    (job,) = commands(result.stdout, "gcloud scheduler jobs create http ")
    uri = search(r"--uri=(\S+)", job).group(1)
    assert f"--oidc-token-audience={uri}" in job
    assert "--oidc-service-account-email=cec-called-routes-inv@my-proj-123.iam.gserviceaccount.com" in job
    assert """'--message-body={"dnids":[4001,4002]}'""" in job
    assert int(search(r"--attempt-deadline=(\d+)s", job).group(1)) == 75
    assert "--headers=Content-Type=application/json" in job
    assert "gcloud iam service-accounts create cec-called-routes-inv " in result.stdout
    (binding,) = commands(result.stdout, "gcloud functions add-invoker-policy-binding ")
    assert "--member=serviceAccount:cec-called-routes-inv@my-proj-123.iam.gserviceaccount.com" in binding


def test_build_account_reads_gcf_sources_and_the_grants_are_waited_for(tmp_path: Path) -> None:
    out = dry_run(tmp_path, *BASE, "--region", "europe-west4", "--iam-wait", "45").stdout.splitlines()
    lookup = out.index("PROJECT_NUMBER=$(gcloud projects describe my-proj-123 '--format=value(projectNumber)')")
    (grant,) = [line for line in out if "--role=roles/storage.objectViewer" in line and "projects add-iam" in line]
    bucket = "projects/_/buckets/gcf-v2-sources-PROJECT_NUMBER-europe-west4"
    assert f'expression=resource.name == "{bucket}" || resource.name.startsWith("{bucket}/")' in grant
    assert "--member=serviceAccount:cec-called-routes-build@my-proj-123.iam.gserviceaccount.com" in grant
    # The wait comes after the last grant and before the deploy, as time_sleep in Terraform.
    grants = [i for i, line in enumerate(out) if "add-iam-policy-binding" in line]
    (sleep,) = [i for i, line in enumerate(out) if line == "sleep 45"]
    (deploy,) = [i for i, line in enumerate(out) if line.startswith("gcloud functions deploy ")]
    assert lookup < grants[-1] < sleep < deploy


def test_repository_and_bucket_policies_are_the_modules(tmp_path: Path) -> None:
    """deploy.sh applies infra/gcloud/*.json; they say what main.tf's blocks say."""
    from ._infra import load_module

    out = dry_run(tmp_path, *BASE).stdout
    (cleanup,) = commands(out, "gcloud artifacts repositories set-cleanup-policies ")
    assert f"--policy={ROOT}/infra/gcloud/image-cleanup-policy.json --no-dry-run" in cleanup
    (update,) = commands(out, "gcloud storage buckets update ")
    assert f"--versioning --lifecycle-file={ROOT}/infra/gcloud/source-lifecycle.json" in update

    resources = load_module()["resource"]
    repo = resources["google_artifact_registry_repository.images"]
    expected = []
    for policy in repo["cleanup_policies"]:
        entry: dict[str, object] = {"name": policy["id"], "action": {"type": policy["action"].capitalize()}}
        for recent in policy.get("most_recent_versions", []):
            entry["mostRecentVersions"] = {"keepCount": recent["keep_count"]}
        for condition in policy.get("condition", []):
            entry["condition"] = {"tagState": condition["tag_state"].lower(), "olderThan": condition["older_than"]}
        expected.append(entry)
    assert json.loads((ROOT / "infra/gcloud/image-cleanup-policy.json").read_text(encoding="utf-8")) == expected

    bucket = resources["google_storage_bucket.source"]
    assert bucket["versioning"][0]["enabled"] is True
    rules = []
    for rule in bucket["lifecycle_rule"]:
        condition = rule["condition"][0]
        rules.append(
            {
                "action": {"type": rule["action"][0]["type"]},
                "condition": {
                    "numNewerVersions": condition["num_newer_versions"],
                    "isLive": {"ARCHIVED": False, "LIVE": True}[condition["with_state"]],
                },
            }
        )
    assert json.loads((ROOT / "infra/gcloud/source-lifecycle.json").read_text(encoding="utf-8")) == {"rule": rules}


def test_script_runs_on_bash_before_4_4() -> None:
    """macOS ships bash 3.2: no mapfile/readarray/associative arrays, and under set -u an
    empty array expanded as "${A[@]}" is an error before 4.4, so every expansion of an
    array that may be empty uses ${A[@]+"${A[@]}"}."""
    code = "\n".join(
        line for line in DEPLOY_SH.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    )
    for feature in ("mapfile", "readarray", "declare -A", "local -A", "${!", ",,}", "^^}", "|&", "coproc"):
        assert feature not in code, feature
    arrays = set(re.findall(r"^\s*(?:local )?([A-Za-z_]+)=\(", code, flags=re.MULTILINE))
    # Filled where they are declared, so never empty.
    never_empty = {name for name in arrays if re.search(rf"^\s*{name}=\([^)\s$]", code, flags=re.MULTILINE)}
    may_be_empty = arrays - never_empty
    assert {"INVOKERS", "SECRET_FLAGS", "MEMBERS", "SOURCE_FILES"} <= may_be_empty
    assert {"P", "SECRETS", "JOB_FLAGS"} <= never_empty
    for name in may_be_empty:
        for match in re.finditer(rf"\$\{{{name}\[([@*])\]\}}", code):
            guard = f"${{{name}[{match.group(1)}]+"
            before = code[: match.start()]
            assert before.endswith((guard, guard + '"')), (
                f"unguarded expansion of {name}: {before[-40:]}{match.group(0)}"
            )


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--caller-auth", "iam", "--public"], "cannot be combined with caller-auth iam"),
        (["--caller-auth", "iam,webhook", "--public"], "cannot be combined with caller-auth iam"),
        (["--caller-auth", "none"], "never deployed"),
        (["--caller-auth", "webhook", "--schedule", "0 3 * * *", "--dnids", "1"], "needs caller-auth iam"),
        (["--schedule", "0 3 * * *"], "--dnids"),
        (["--request-budget", "40", "--timeout", "30"], "--timeout must be at least"),
        (["--timeout", "3601"], "--timeout must be at most 3600"),
        (["--schedule", "0 3 * * *", "--dnids", "1", "--timeout", "1786"], "at most 1785 with --schedule"),
        (["--runtime", "python314"], "--runtime must be python311, python312 or python313"),
        (["--iam-wait", "soon"], "whole seconds"),
        (["--max-instances", "101"], "--max-instances must be 1-100"),
        (["--min-instances", "4"], "--min-instances must be 0 to --max-instances"),
        (["--memory", "lots"], "--memory must be a size"),
        (["--ingress", "ALLOW_ALL"], "--ingress must be all, internal-only or internal-and-gclb"),
        (["--protected-access-codes", "1, 2"], "comma list without spaces"),
        (["--firestore-database", "mine"], "need --idempotency-store firestore"),
        (["--create-firestore-database"], "need --idempotency-store firestore"),
        (["--audit-sink", "bigquery"], "bigquery: use the Terraform module"),
        (["--audit-retention-days", "4000"], "--audit-retention-days must be 1-3650"),
        (["--secret-locations", "europe west1"], "--secret-locations must be a comma list"),
        (["--vpc-connector", "cec-egress"], "projects/P/locations/R/connectors/C"),
        (["--egress-settings", "all"], "--egress-settings needs --vpc-connector"),
        (["--audit-sink", "none", "--audit-locked"], "--audit-locked needs --audit-sink log_bucket"),
        (["--audit-project", "Logs"], "--audit-project must be a project ID"),
        (["--audit-kms-key", "my-key"], "--audit-kms-key must be projects/P/locations/L/keyRings/R/cryptoKeys/K"),
        (["--secret-version", "webhook=0"], "--secret-version must be SECRET=N"),
        (["--secret-version", "audit_keys=3"], "--secret-version must be SECRET=N"),
        (["--secret-kms-keys", "europe-west1=k"], "--secret-kms-keys must be LOCATION="),
        (
            ["--secret-locations", "europe-west1,europe-west4", "--secret-kms-keys", f"europe-west1={KEY_EW1}"],
            "one key for each of --secret-locations",
        ),
        (["--firestore-deletable"], "need --idempotency-store firestore"),
    ],
)
def test_unsafe_or_broken_combinations_are_refused_before_any_command(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    result = dry_run(tmp_path, *BASE, *args)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert result.stdout == ""


def test_secret_names_match_the_terraform_module() -> None:
    main_tf = (ROOT / "infra" / "terraform" / "main.tf").read_text(encoding="utf-8")
    script = DEPLOY_SH.read_text(encoding="utf-8")
    for suffix in ("-cec-credentials", "-api-keys", "-webhook-secret", "-images", "-src"):
        assert f'{suffix}"' in main_tf or f"{suffix}\n" in main_tf, suffix
        assert suffix in script, suffix


def _terraform_invoker_rule() -> str:
    """The member-kind alternation of Terraform's invoker_members validation (main.tf's
    IAM_ALLOWED_PRINCIPALS filter uses the same form for a narrower list: not that one)."""
    variables = (ROOT / "infra" / "terraform" / "variables.tf").read_text(encoding="utf-8")
    block = variables.split('variable "invoker_members" {', 1)[1].split("\n}\n", 1)[0]
    return search(r'regex\("\^\(([a-zA-Z|]+)\):", m\)', block).group(1)


def test_invoker_rule_is_terraforms() -> None:
    kinds = _terraform_invoker_rule()
    assert f'"$member" =~ ^({kinds}):' in DEPLOY_SH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "member",
    [
        "allUsers",
        "allAuthenticatedUsers",
        "domain:example.com",
        "ops@example.com",
        "principalSet://goog/public:all",
        "user:ops@example.com;CALLER_AUTH=none",
        "serviceAccount:a@p.iam.gserviceaccount.com,allUsers",
    ],
)
def test_public_or_malformed_invokers_are_refused_before_any_command(tmp_path: Path, member: str) -> None:
    for auth in ("iam", "webhook"):
        result = dry_run(
            tmp_path, *BASE, "--caller-auth", auth, "--invoker", "user:ok@example.com", "--invoker", member
        )
        assert result.returncode == 2, result.stdout
        assert f"--invoker {member} is refused" in result.stderr
        assert result.stdout == ""


def _deploy_env(output: str) -> dict[str, str]:
    (deploy,) = commands(output, "gcloud functions deploy ")
    pairs = search(r"--set-env-vars=\^;\^([^' ]+)", deploy).group(1).split(";")
    return dict(pair.split("=", 1) for pair in pairs)


def test_iam_mode_gets_the_allow_list_and_audiences_the_function_reads(tmp_path: Path) -> None:
    from function.settings import load_settings

    members = ["user:ops@example.com", "group:team@example.com", "serviceAccount:wf@other.iam.gserviceaccount.com"]
    args = [arg for member in members for arg in ("--invoker", member)]
    result = dry_run(tmp_path, *BASE, *args, "--schedule", "0 3 * * *", "--dnids", "1")
    assert result.returncode == 0, result.stderr
    env = _deploy_env(result.stdout)
    inv = "cec-called-routes-inv@my-proj-123.iam.gserviceaccount.com"
    assert env["IAM_ALLOWED_PRINCIPALS"] == f"serviceAccount:{inv},user:ops@example.com,{members[2]}"
    assert env["IAM_AUDIENCES"] == (
        "https://europe-west1-my-proj-123.cloudfunctions.net/cec-called-routes,"
        "https://cec-called-routes-PROJECT_NUMBER.europe-west1.run.app"
    )
    assert "group members may invoke through Cloud Run, but caller-auth iam refuses them" in result.stderr
    # Every member is still granted the invoker role, the group included.
    bindings = commands(result.stdout, "gcloud functions add-invoker-policy-binding ")
    assert sorted(b.split("--member=")[1].split(" ")[0] for b in bindings) == sorted(
        [*members, f"serviceAccount:{inv}"]
    )
    # The function accepts these values as they are.
    settings = load_settings({**env, "CEC_APP_KEY": "k", "CEC_APP_SECRET": "s"})
    assert settings.missing() == []
    assert settings.iam_principals == {inv, "ops@example.com", "wf@other.iam.gserviceaccount.com"}


def test_iam_without_identities_to_allow_says_it_will_refuse_everyone(tmp_path: Path) -> None:
    result = dry_run(tmp_path, *BASE, "--invoker", "group:team@example.com")
    assert result.returncode == 0, result.stderr
    assert "IAM_ALLOWED_PRINCIPALS" not in _deploy_env(result.stdout)
    assert "caller-auth iam refuses every caller (503 not_configured)" in result.stderr
    result = dry_run(tmp_path, *BASE, "--caller-auth", "webhook", "--invoker", "user:ops@example.com")
    assert result.returncode == 0, result.stderr
    assert not [name for name in _deploy_env(result.stdout) if name.startswith("IAM_")]


FAKE_GCLOUD = r"""#!/usr/bin/env bash
# A stand-in for gcloud that records each call and keeps the state of a project in
# $STATE: what exists, and which secrets have a version (added by "versions add").
echo "$*" >>"$STATE/calls"
case "$*" in
  "secrets versions list "*) [[ -f "$STATE/version-$4" ]] && echo 1; exit 0 ;;
  "secrets versions add "*) touch "$STATE/version-$4"; exit 0 ;;
  "projects describe "*) echo 123456789; exit 0 ;;
  "functions describe "*) echo https://fn.example.run.app; exit 0 ;;
  *" describe "*) exit 1 ;;
  *) exit 0 ;;
esac
"""


def real_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """deploy.sh without --dry-run, against the stand-in gcloud; the gcloud calls it made."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "gcloud").write_text(FAKE_GCLOUD)
    (fake / "gcloud").chmod(0o755)
    calls = tmp_path / "calls"
    calls.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "STATE": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(DEPLOY_SH), *BASE, *args, "--iam-wait", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=ROOT,
    )
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_first_run_creates_the_secrets_and_stops_with_the_commands_the_second_run_finishes(tmp_path: Path) -> None:
    args = ("--caller-auth", "webhook,api_key", "--public", "--plan-tokens", "--caller-policies")
    first, calls = real_run(tmp_path, *args)
    assert first.returncode == 3, first.stderr
    created = [c.split()[2] for c in calls if c.startswith("secrets create ")]
    names = ("cec-credentials", "api-keys", "webhook-secret", "plan-signing-keys", "caller-policies")
    assert created == [f"cec-called-routes-{n}" for n in names]
    assert not [c for c in calls if c.startswith(("functions ", "storage ", "artifacts "))], calls
    # The message ends the output, and each of its commands adds one secret's value.
    lines = first.stderr.strip().splitlines()
    adds = [line.strip() for line in lines if "gcloud secrets versions add" in line]
    assert len(adds) == len(names) and lines[-len(names) :] == [f"  {a}" for a in adds]
    assert "run the same deploy.sh command again" in first.stderr
    # Run them as printed: values from the environment, a generator in the repository,
    # or files beside the operator (here in tmp_path).
    (tmp_path / "api-keys.txt").write_text("k" * 40)
    (tmp_path / "caller-policies.json").write_text("{}")
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "STATE": str(tmp_path),
        "CEC_APP_KEY": "ak",
        "CEC_APP_SECRET": "sk",
    }
    for add in adds:
        cwd = ROOT if "--data-file=-" in add else tmp_path
        ran = subprocess.run(
            ["bash", "-c", add], capture_output=True, text=True, timeout=60, check=False, env=env, cwd=cwd
        )
        assert ran.returncode == 0, (add, ran.stderr)
    second, calls = real_run(tmp_path, *args)
    assert second.returncode == 0, second.stderr
    assert [c for c in calls if c.startswith("functions deploy ")]
    assert "add-invoker-policy-binding cec-called-routes --region=europe-west1 --member=allUsers" in "\n".join(calls)


# --- The audit trail as evidence, pinned secrets, customer-managed keys, Firestore ----------

AUDIT_FILTER = (
    'resource.type="cloud_run_revision" AND resource.labels.service_name="cec-called-routes" AND '
    'logName="projects/my-proj-123/logs/run.googleapis.com%2Fstdout" AND labels.audit="cec-called-routes" '
    'AND jsonPayload.message="called routes deleted"'
)


def test_the_audit_sink_is_on_by_default_and_names_the_log(tmp_path: Path) -> None:
    out = dry_run(tmp_path, *BASE).stdout
    (create,) = commands(out, "gcloud logging buckets create ")
    assert create.startswith("gcloud logging buckets create cec-called-routes-audit --location=europe-west1 ")
    assert "--retention-days=400 " in create and "--project=my-proj-123" in create
    assert "--cmek-kms-key-name" not in create and "--locked" not in out
    (sink,) = commands(out, "gcloud logging sinks create ")
    assert (
        " logging.googleapis.com/projects/my-proj-123/locations/europe-west1/buckets/cec-called-routes-audit " in sink
    )
    assert shlex.quote(f"--log-filter={AUDIT_FILTER}") in sink
    # An existing sink gets the same destination and filter (an older one had no log name).
    assert f"# if the sink exists, instead: {sink.replace(' create ', ' update ', 1)}" in out
    # Nothing grants a writer in the same project.
    assert "roles/logging.bucketWriter" not in out
    # Turned off only on request.
    none = dry_run(tmp_path, *BASE, "--audit-sink", "none").stdout
    assert "gcloud logging" not in none


def test_locked_audit_bucket_in_a_logging_project_with_a_key(tmp_path: Path) -> None:
    key = "projects/kms-proj/locations/europe-west1/keyRings/cec/cryptoKeys/audit"
    result = dry_run(
        tmp_path,
        *BASE,
        "--audit-locked",
        "--audit-project",
        "my-logs-123",
        "--audit-kms-key",
        key,
        "--audit-retention-days",
        "3650",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    (create,) = commands(out, "gcloud logging buckets create ")
    assert f"--cmek-kms-key-name={key} " in create and create.endswith("--project=my-logs-123")
    assert "--retention-days=3650 " in create
    assert (
        "gcloud logging buckets update cec-called-routes-audit --location=europe-west1 --locked --project=my-logs-123"
    ) in commands(out, "gcloud logging buckets update ")
    (sink,) = commands(out, "gcloud logging sinks create ")
    # The sink stays in the function's project (it routes that project's entries).
    assert (
        " logging.googleapis.com/projects/my-logs-123/locations/europe-west1/buckets/cec-called-routes-audit " in sink
    )
    assert sink.endswith("--project=my-proj-123")
    assert (
        "WRITER=$(gcloud logging sinks describe cec-called-routes-audit "
        "'--format=value(writerIdentity)' --project=my-proj-123)"
    ) in out
    (grant,) = [c for c in commands(out, "gcloud projects add-iam-policy-binding my-logs-123 ")]
    assert "--role=roles/logging.bucketWriter " in grant
    assert 'expression=resource.name.endsWith("locations/europe-west1/buckets/cec-called-routes-audit")' in grant


def _mounts(deploy: str) -> dict[str, str]:
    spec = search(r"--set-secrets=(\S+)", deploy).group(1)
    return dict(m.split("=", 1) for m in spec.split(","))


def test_secret_versions_are_pinned_on_request_and_the_webhook_says_so_when_not(tmp_path: Path) -> None:
    public = [*BASE, "--caller-auth", "webhook,api_key", "--public"]
    floating = dry_run(tmp_path, *public)
    assert "WEBHOOK_SECRET follows the latest version" in floating.stderr
    assert _mounts(commands(floating.stdout, "gcloud functions deploy ")[0])["WEBHOOK_SECRET"].endswith(":latest")

    pinned = dry_run(tmp_path, *public, "--secret-version", "webhook=3", "--secret-version", "api_keys=2")
    assert pinned.returncode == 0, pinned.stderr
    assert "WEBHOOK_SECRET follows" not in pinned.stderr
    mounts = _mounts(commands(pinned.stdout, "gcloud functions deploy ")[0])
    assert mounts == {
        "/etc/secrets/cec/credentials.json": "cec-called-routes-cec-credentials:latest",
        "/etc/secrets/api-keys/keys": "cec-called-routes-api-keys:2",
        "WEBHOOK_SECRET": "cec-called-routes-webhook-secret:3",
    }
    named = dry_run(
        tmp_path,
        *BASE,
        "--caller-auth",
        "iam,api_key",
        "--secrets-source",
        "secret_manager",
        "--secret-version",
        "cec_credentials=7",
    ).stdout
    (deploy,) = commands(named, "gcloud functions deploy ")
    assert "CEC_CREDENTIALS_SECRET=projects/my-proj-123/secrets/cec-called-routes-cec-credentials/versions/7;" in deploy
    assert "API_KEYS_SECRET=projects/my-proj-123/secrets/cec-called-routes-api-keys/versions/latest;" in deploy


def test_customer_managed_keys_per_replica_go_into_a_replication_policy_file(tmp_path: Path) -> None:
    result = dry_run(
        tmp_path,
        *BASE,
        "--secret-locations",
        "europe-west1,europe-west4",
        "--secret-kms-keys",
        f"europe-west4={KEY_EW4},europe-west1={KEY_EW1}",
    )
    assert result.returncode == 0, result.stderr
    found = re.search(r"^# (\S+/secret-replication\.json): (.*)$", result.stdout, flags=re.MULTILINE)
    assert found, result.stdout
    path, policy = found.groups()
    assert json.loads(policy) == {
        "userManaged": {
            "replicas": [
                {"location": "europe-west4", "customerManagedEncryption": {"kmsKeyName": KEY_EW4}},
                {"location": "europe-west1", "customerManagedEncryption": {"kmsKeyName": KEY_EW1}},
            ]
        }
    }
    (create,) = commands(result.stdout, "gcloud secrets create ")
    assert f"--replication-policy-file={path} " in create and "--locations" not in create


def test_firestore_defaults_to_a_database_of_the_functions_own_with_delete_protection(tmp_path: Path) -> None:
    own = dry_run(tmp_path, *BASE, "--idempotency-store", "firestore").stdout
    (create,) = commands(own, "gcloud firestore databases create ")
    assert create == (
        "gcloud firestore databases create --database=cec-called-routes --location=europe-west1 "
        "--type=firestore-native --delete-protection --project=my-proj-123"
    )
    (deploy,) = commands(own, "gcloud functions deploy ")
    assert "IDEMPOTENCY_FIRESTORE_DATABASE=cec-called-routes;" in deploy
    grant = next(c for c in commands(own, "gcloud projects add-iam-policy-binding ") if "datastore.user" in c)
    assert 'resource.name == "projects/my-proj-123/databases/cec-called-routes"' in grant
    deletable = dry_run(tmp_path, *BASE, "--idempotency-store", "firestore", "--firestore-deletable").stdout
    assert "--delete-protection" not in deletable and commands(deletable, "gcloud firestore databases create ")
    shared = dry_run(tmp_path, *BASE, "--idempotency-store", "firestore", "--firestore-database", "(default)").stdout
    assert not commands(shared, "gcloud firestore databases create ")
    assert "IDEMPOTENCY_FIRESTORE_DATABASE=(default);" in commands(shared, "gcloud functions deploy ")[0]
