"""The cold-path choices of the Terraform module (issue 14): the AK/SK secret mounted as a
file or read with the client library, and gunicorn's THREADS equal to the instance's
request concurrency."""

from __future__ import annotations

import re

from function.settings import Settings

from ._infra import Module, evaluate, load_module, unwrap, validations

FUNCTION = "google_cloudfunctions2_function.this"


def _service(module: Module) -> dict[str, object]:
    service: dict[str, object] = module["resource"][FUNCTION]["service_config"][0]
    return service


def test_the_credentials_secret_is_a_volume_or_a_secret_manager_read_never_both() -> None:
    module = load_module()
    environment = unwrap(module["locals"]["environment"])
    assert module["variable"]["cec_credentials_source"]["default"] == "volume"
    assert unwrap(module["locals"]["credentials_volume"]) == 'var.cec_credentials_source == "volume"'
    assert re.search(r"CEC_CREDENTIALS_SECRET\s+= local\.credentials_volume \? null : ", environment)
    assert re.search(
        r"CEC_CREDENTIALS_FILE\s+= local\.credentials_volume \? local\.credentials_file : null", environment
    )

    (volume,) = [b["secret_volumes"] for b in _service(module)["dynamic"] if "secret_volumes" in b]  # type: ignore[attr-defined]
    assert unwrap(volume["for_each"]) == 'local.credentials_volume ? ["cec_credentials"] : []'
    content = volume["content"][0]
    # The module's own secret (so the runtime account's accessor binding covers it), latest version.
    assert unwrap(content["secret"]) == "google_secret_manager_secret.this[secret_volumes.value].secret_id"
    (version,) = content["versions"]
    assert version["version"] == "latest"
    mount, path = module["locals"]["credentials_mount"], module["locals"]["credentials_file"]
    assert unwrap(content["mount_path"]) == "local.credentials_mount"
    assert path == f"{mount}/{version['path']}"
    # What the function will be told is a path the settings accept.
    Settings.model_validate({"CEC_CREDENTIALS_FILE": path})

    guard = validations(module, "cec_credentials_source")[0]
    assert evaluate(guard, cec_credentials_source="volume")
    assert evaluate(guard, cec_credentials_source="secret_manager")
    assert not evaluate(guard, cec_credentials_source="env")


def test_threads_follow_max_instance_request_concurrency() -> None:
    module = load_module()
    environment = unwrap(module["locals"]["environment"])
    assert re.search(r"THREADS\s+= tostring\(var\.max_instance_request_concurrency\)", environment)
    assert unwrap(_service(module)["max_instance_request_concurrency"]) == "var.max_instance_request_concurrency"
