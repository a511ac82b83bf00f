"""The cold-path choices of both deployment paths (issue 14): every secret the function
reads at request time mounted as a file or read with the client library (secrets_source,
deploy.sh --secrets-source), and gunicorn's THREADS equal to the instance's request
concurrency. What Terraform really plans from this is in test_terraform_plan.py."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from function.settings import Settings

from ._infra import DEPLOY_SH, Module, evaluate, load_module, unwrap, validations

FUNCTION = "google_cloudfunctions2_function.this"
# The secrets read at request time: the module's key, the setting's stem (<stem>_FILE,
# <stem>_SECRET) and the file it is mounted as. WEBHOOK_SECRET is not among them: a
# secret environment variable, resolved when an instance starts.
REQUEST_SECRETS = {
    "cec_credentials": ("CEC_CREDENTIALS", "/etc/secrets/cec/credentials.json"),
    "api_keys": ("API_KEYS", "/etc/secrets/api-keys/keys"),
    "plan_signing_keys": ("PLAN_SIGNING_KEYS", "/etc/secrets/plan-signing-keys/keys"),
    "caller_policies": ("CALLER_POLICIES", "/etc/secrets/caller-policies/policies.json"),
}
# Cloud Functions refuses these mount paths (v1 API reference, SecretVolume.mount_path;
# main.tf cites it); Cloud Run volumes also never go under /dev, /proc or /sys.
RESTRICTED = ("/cloudsql", "/dev", "/pod", "/proc", "/sys", "/var/log")


def _service(module: Module) -> dict[str, object]:
    service: dict[str, object] = module["resource"][FUNCTION]["service_config"][0]
    return service


def _dynamic(module: Module, name: str) -> dict[str, object]:
    (block,) = [b[name] for b in _service(module)["dynamic"] if name in b]  # type: ignore[attr-defined]
    found: dict[str, object] = block
    return found


def _settings_field(alias: str) -> str:
    """The Settings field an environment variable sets; fails if the code does not read it."""
    fields = {f.alias: name for name, f in Settings.model_fields.items() if f.alias}
    assert alias in fields, f"function/settings.py reads no {alias}"
    return fields[alias]


def _script_request_secrets() -> dict[str, str]:
    """deploy.sh's READ_AT_REQUEST entries: setting stem -> mounted file."""
    text = DEPLOY_SH.read_text(encoding="utf-8")
    entries = re.findall(r'READ_AT_REQUEST(?:\+)?=\("(\w+) \$\{NAME\}-[\w-]+ (\S+)"\)', text)
    return dict(entries)


def test_secrets_source_chooses_volume_by_default_or_secret_manager() -> None:
    module = load_module()
    assert module["variable"]["secrets_source"]["default"] == "volume"
    assert "cec_credentials_source" not in module["variable"]  # renamed in the same unreleased round
    assert unwrap(module["locals"]["secrets_volume"]) == 'var.secrets_source == "volume"'
    guard = validations(module, "secrets_source")[0]
    assert evaluate(guard, secrets_source="volume")
    assert evaluate(guard, secrets_source="secret_manager")
    assert not evaluate(guard, secrets_source="env")
    assert not evaluate(guard, secrets_source="Volume")


def test_every_request_time_secret_is_a_file_or_a_version_never_both() -> None:
    module = load_module()
    local = module["locals"]
    mounts = local["secret_mounts"]
    assert {key: f"{m['directory']}/{m['file']}" for key, m in mounts.items()} == {
        key: path for key, (_, path) in REQUEST_SECRETS.items()
    }
    # Only the secrets this deployment has (a mode's secret exists only in its mode), and
    # by secrets_source either mounted or named by version.
    secrets = unwrap(local["secrets"])
    assert set(mounts) <= set(re.findall(r"\b(\w+) = \"\$\{var\.name\}", secrets))
    assert (
        unwrap(local["request_secrets"])
        == "[for key in keys(local.secret_mounts) : key if contains(keys(local.secrets), key)]"
    )
    assert (
        unwrap(local["mounted_secrets"])
        == "{for key in local.request_secrets : key => local.secret_mounts[key] if local.secrets_volume}"
    )
    assert local["secret_versions"] == (
        "${{for key in local.request_secrets : key => "
        '"${google_secret_manager_secret.this[key].id}/versions/${local.secret_version[key]}"'
        " if !local.secrets_volume}}"
    )
    # latest unless var.secret_versions pins the secret.
    assert local["secret_version"] == (
        '${{for key in keys(local.secrets) : key => lookup(var.secret_versions, key, "latest")}}'
    )
    assert (
        local["secret_files"]
        == '${{for key, mount in local.mounted_secrets : key => "${mount.directory}/${mount.file}"}}'
    )

    environment = unwrap(local["environment"])
    for key, (stem, _) in REQUEST_SECRETS.items():
        assert re.search(rf'\b{stem}_FILE = lookup\(local\.secret_files, "{key}", null\)', environment), stem
        assert re.search(rf'\b{stem}_SECRET = lookup\(local\.secret_versions, "{key}", null\)', environment), stem


def test_each_mounted_secret_is_the_modules_own_pinned_or_latest_version_in_its_own_directory() -> None:
    module = load_module()
    volume = _dynamic(module, "secret_volumes")
    assert unwrap(volume["for_each"]) == "local.mounted_secrets"
    (content,) = volume["content"]  # type: ignore[misc]
    # The module's own secret, so the runtime account's accessor binding covers it.
    assert unwrap(content["secret"]) == "google_secret_manager_secret.this[secret_volumes.key].secret_id"
    assert unwrap(content["mount_path"]) == "secret_volumes.value.directory"
    (version,) = content["versions"]
    assert unwrap(version["version"]) == "local.secret_version[secret_volumes.key]"
    assert unwrap(version["path"]) == "secret_volumes.value.file"
    # The webhook secret stays an environment variable, resolved at instance start.
    webhook = _dynamic(module, "secret_environment_variables")
    assert webhook["content"][0]["key"] == "WEBHOOK_SECRET"  # type: ignore[index]
    assert unwrap(webhook["content"][0]["version"]) == 'local.secret_version["webhook"]'  # type: ignore[index]


def test_mount_directories_are_distinct_unnested_and_not_restricted() -> None:
    """A secret's mount directory is shadowed whole and takes no other secret, so two
    secrets must never share a directory or nest; both paths use the same files."""
    module = load_module()
    files = [f"{m['directory']}/{m['file']}" for m in module["locals"]["secret_mounts"].values()]
    script = _script_request_secrets()
    assert script == {stem: path for stem, path in REQUEST_SECRETS.values() if stem in script}
    assert set(script) >= {"CEC_CREDENTIALS", "API_KEYS"}
    directories = [PurePosixPath(f).parent for f in files]
    assert len(set(directories)) == len(directories), directories
    for one in directories:
        assert one.is_absolute() and one.parent == PurePosixPath("/etc/secrets"), one
        for other in directories:
            assert one == other or not one.is_relative_to(other), (one, other)
        for restricted in RESTRICTED:
            assert not one.is_relative_to(restricted), one


def test_the_function_reads_each_file_setting_the_deployments_set() -> None:
    """Each *_FILE is a setting of function/settings.py, and it takes the mounted path."""
    for stem, path in REQUEST_SECRETS.values():
        field = _settings_field(f"{stem}_FILE")
        assert getattr(Settings.model_validate({f"{stem}_FILE": path}), field) == path, stem
        _settings_field(f"{stem}_SECRET")


def test_threads_follow_max_instance_request_concurrency() -> None:
    module = load_module()
    environment = unwrap(module["locals"]["environment"])
    assert re.search(r"THREADS\s+= tostring\(var\.max_instance_request_concurrency\)", environment)
    assert unwrap(_service(module)["max_instance_request_concurrency"]) == "var.max_instance_request_concurrency"
