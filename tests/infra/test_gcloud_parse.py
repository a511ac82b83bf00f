"""Every command `deploy.sh --dry-run` prints, parsed by the installed gcloud itself.

With an empty configuration (no account), gcloud parses a command completely before it
needs credentials: an unknown or malformed flag fails with "unrecognized arguments" or
"argument --x: ..." (exit 2), a well-formed command stops at "You do not currently have
an active account selected" (exit 1). Nothing reaches Google: there is no account.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ._infra import DEPLOY_SH, tool

pytestmark = pytest.mark.external_tools

BASE = ["--project", "my-proj-123", "--cec-base-url", "https://service.example.com"]
KEY = "projects/kms-proj/locations/{}/keyRings/cec/cryptoKeys/cec"
# Between them, these reach every command the script can print: public mounts two secret
# files and a secret environment variable; scheduled names its secrets by version.
MODES = {
    "default": [],
    "public_webhook_api_key": ["--caller-auth", "webhook,api_key", "--public", "--runtime", "python313"],
    "scheduled": [
        *("--caller-auth", "iam,api_key", "--schedule", "0 3 * * *", "--dnids", "4001,4002"),
        *("--secrets-source", "secret_manager"),
        *("--invoker", "group:ops@example.com", "--time-zone", "Europe/Madrid", "--timeout", "1785"),
        *("--secret-locations", "europe-west1,europe-west4", "--idempotency-store", "firestore"),
        *("--memory", "1Gi", "--max-instances", "10", "--min-instances", "1", "--ingress", "internal-only"),
        *("--concurrency", "4", "--name", "cec-tenant-a", "--request-budget", "40", "--iam-wait", "5"),
    ],
    # Every safeguard and option of the public webhook example, and then some.
    "public_safeguards": [
        *("--caller-auth", "webhook,api_key", "--public", "--plan-tokens", "--caller-policies"),
        *("--protected-access-codes", "9911411,99114*", "--no-lookup-before-delete"),
        *("--idempotency-store", "firestore", "--create-firestore-database", "--firestore-database", "cec-routes"),
        *("--idempotency-on-store-error", "proceed", "--audit-sink", "log_bucket", "--audit-retention-days", "90"),
        *("--vpc-connector", "projects/my-proj-123/locations/europe-west1/connectors/cec-egress"),
        *("--egress-settings", "private-ranges-only", "--memory", "512Mi", "--ingress", "internal-and-gclb"),
        *("--log-level", "DEBUG"),
    ],
    # The audit trail as evidence and the organisation-policy options: a locked bucket in a
    # logging project with a customer-managed key, secrets pinned and encrypted per replica.
    "evidence": [
        *("--caller-auth", "webhook,api_key", "--public", "--secret-version", "webhook=3"),
        *("--secret-version", "api_keys=2", "--secret-locations", "europe-west1,europe-west4"),
        *("--secret-kms-keys", f"europe-west1={KEY.format('europe-west1')},europe-west4={KEY.format('europe-west4')}"),
        *("--audit-locked", "--audit-project", "my-logs-123", "--audit-kms-key", KEY.format("europe-west1")),
        *("--idempotency-store", "firestore", "--firestore-deletable"),
    ],
}
NO_ACCOUNT = "You do not currently have an active account selected"
PARSE_ERROR = re.compile(r"unrecognized arguments|argument --?[\w-]+:|Invalid choice|invalid choice")
# How the dry run prints commands: plain, as a lookup VAR=$(...), or as a check/branch comment.
COMMAND_LINE = re.compile(
    r"^(?:(?:# unless this succeeds|# stops unless this prints a version|# if the (?:job|sink) exists, instead): )?"
    r"(?:\w+=\$\()?(gcloud .*?)\)?$"
)


# The commands that add the secrets' values, printed after a pipe: the gcloud part.
ADD_VALUE = re.compile(r"^#   add it with: (?:.*\| )?(gcloud secrets versions add \S+ --data-file=\S+ \S+)")


# Files the script writes for gcloud to read (a replication policy), printed as "# PATH: CONTENT".
WRITTEN_FILE = re.compile(r"^# (/\S+\.json): (\{.*\})$", flags=re.MULTILINE)


def printed_commands(output: str) -> list[list[str]]:
    commands = []
    for line in output.splitlines():
        match = COMMAND_LINE.match(line) or ADD_VALUE.match(line)
        if match:
            commands.append(shlex.split(match.group(1)))
    return commands


def dry_run(*args: str) -> str:
    result = subprocess.run(
        ["bash", str(DEPLOY_SH), *BASE, *args, "--dry-run"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def parse(gcloud: str, config: Path, command: list[str], cwd: Path | None = None) -> tuple[list[str], int, str]:
    env = {
        **os.environ,
        "CLOUDSDK_CONFIG": str(config),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
    }
    for name in ("CLOUDSDK_CORE_ACCOUNT", "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", "GOOGLE_APPLICATION_CREDENTIALS"):
        env.pop(name, None)
    try:
        result = subprocess.run(
            [gcloud, *command[1:]], capture_output=True, text=True, timeout=60, check=False, env=env, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        return command, -1, "timed out after 60 s"
    return command, result.returncode, result.stderr


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[list[str], int, str]]:
    gcloud = tool("GCLOUD_BIN", "gcloud", "install the Google Cloud CLI")
    config = tmp_path_factory.mktemp("gcloud-config")  # empty: no account, no project
    unique: dict[str, list[str]] = {}
    for args in MODES.values():
        output = dry_run(*args)
        # The script's temporary directory is gone once it exits: write its files again.
        for path, content in WRITTEN_FILE.findall(output):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content, encoding="utf-8")
        for command in printed_commands(output):
            unique.setdefault(shlex.join(command), command)
    # The files the printed "versions add" commands read (gcloud reads them while parsing).
    workdir = tmp_path_factory.mktemp("operator")
    (workdir / "api-keys.txt").write_text("k" * 40)
    (workdir / "caller-policies.json").write_text("{}")
    # Each gcloud start costs about a second of CPU; four at a time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda c: parse(gcloud, config, c, workdir), unique.values()))


def test_every_printed_command_is_found(verdicts: list[tuple[list[str], int, str]]) -> None:
    groups = {" ".join(command[1:3]) for command, _, _ in verdicts}
    for expected in (
        "services enable",
        "iam service-accounts",
        "secrets create",
        "secrets versions",
        "artifacts repositories",
        "storage buckets",
        "storage cp",
        "projects add-iam-policy-binding",
        "projects describe",
        "functions deploy",
        "functions add-invoker-policy-binding",
        "scheduler jobs",
        "firestore databases",
        "firestore fields",
        "firestore indexes",
        "logging buckets",
        "logging sinks",
    ):
        assert any(group.startswith(expected) for group in groups), expected
    verbs = {" ".join(command[1:5]) for command, _, _ in verdicts}
    assert "scheduler jobs create http" in verbs and "scheduler jobs update http" in verbs
    flags = {arg.split("=", 1)[0] for command, _, _ in verdicts for arg in command}
    assert {"--locked", "--cmek-kms-key-name", "--replication-policy-file", "--delete-protection"} <= flags
    assert {"logging sinks create", "logging sinks update"} <= {" ".join(c[1:4]) for c, _, _ in verdicts}
    assert sum(1 for c, _, _ in verdicts if c[1:4] == ["secrets", "versions", "add"]) >= 5
    assert len(verdicts) >= 30


def test_gcloud_parses_every_command_the_dry_run_prints(verdicts: list[tuple[list[str], int, str]]) -> None:
    refused = [
        f"{shlex.join(command)}\n  exit {code}: {stderr.strip()[:400]}"
        for command, code, stderr in verdicts
        if code == 2
        or PARSE_ERROR.search(stderr)
        or not (code == 1 and (NO_ACCOUNT in stderr or _confirms(command, stderr)))
    ]
    assert not refused, "gcloud did not accept:\n" + "\n".join(refused)
    # A --set-secrets key that is not an absolute path would silently become a variable name.
    misread = [shlex.join(c) for c, _, stderr in verdicts if "interpreted as a secret environment variable" in stderr]
    assert not misread, misread


def _confirms(command: list[str], stderr: str) -> bool:
    """Locking a bucket asks for confirmation once the command is parsed, before any account
    is needed; with prompts off (as here) the answer is no."""
    return "--locked" in command and "(gcloud.logging.buckets.update) Aborted by user." in stderr


def test_the_deploy_commands_mount_each_secret_file_gcloud_accepts(verdicts: list[tuple[list[str], int, str]]) -> None:
    """Both mounted files of the public mode reach gcloud, which refuses two secrets in
    one mount directory while parsing (see the next test), before any account is needed."""
    deploys = [c for c, _, _ in verdicts if c[1:3] == ["functions", "deploy"]]
    mounts = {arg for c in deploys for arg in c if arg.startswith("--set-secrets=")}
    assert any("/etc/secrets/api-keys/keys=" in m and "/etc/secrets/cec/credentials.json=" in m for m in mounts), mounts


def test_the_check_tells_a_bad_flag_from_a_good_one(tmp_path: Path) -> None:
    """The verdict above means something: a misspelt flag is a parse error, exit 2."""
    gcloud = tool("GCLOUD_BIN", "gcloud", "install the Google Cloud CLI")
    good = ["gcloud", "functions", "deploy", "f", "--gen2", "--region=europe-west1", "--project=my-proj-123"]
    bad = [*good, "--max-instance=3"]
    _, good_code, good_err = parse(gcloud, tmp_path, good)
    _, bad_code, bad_err = parse(gcloud, tmp_path, bad)
    assert (good_code, NO_ACCOUNT in good_err) == (1, True), good_err
    assert bad_code == 2 and PARSE_ERROR.search(bad_err), bad_err
    # Two secrets in one directory are refused as the flag is parsed: the reason each
    # secret has a directory of its own (infra/terraform/main.tf, secret_mounts).
    shared = [*good, "--set-secrets=/etc/secrets/a/x=s1:latest,/etc/secrets/a/y=s2:latest"]
    _, shared_code, shared_err = parse(gcloud, tmp_path, shared)
    assert shared_code == 2 and "More than one secret is configured for the mount path" in shared_err, shared_err
