"""API_KEYS_FILE, PLAN_SIGNING_KEYS_FILE, CALLER_POLICIES_FILE: every run-time secret can be a
mounted file (issue 14), preferred to its *_SECRET twin, cached like it, and then no request
loads google-cloud-secret-manager. The function runs in-process against the simulator over
real HTTP; the files are real files, as Cloud Run's secret volumes are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from function.callers import auth
from function.secret_source import MountedSecret
from tests.conftest import API_KEY, ROOT
from tests.test_requests import assert_problem

# A *_SECRET that does not exist: were it read, the request would fail.
ABSENT = "projects/test-project/secrets/absent/versions/1"
PLAN_KEY = "p" * 40


def _secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name / "payload"
    path.parent.mkdir()
    path.write_text(content)
    return path


def _file_reads(out: str, setting: str) -> int:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("message") == "secret read" and line.get("setting") == setting)


def test_api_keys_from_a_file_win_over_the_secret_and_are_read_once(
    post: Callable[..., TestResponse],
    env: Callable[..., None],
    secrets: FakeSecretManagerControl,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = _secret_file(tmp_path, "api-keys", f"n8n={API_KEY}\nzapier=another-key-0123456789\n")
    env(API_KEYS=None, API_KEYS_FILE=str(keys), API_KEYS_SECRET=ABSENT, SECRET_CACHE_TTL_SECONDS="0")
    capsys.readouterr()
    for attempt in range(5):
        assert_problem(post({"dnids": "1"}, key=f"guess-{attempt}"), 401, "unauthenticated")
    response = post({"dnids": "1"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert post({"dnids": "2"}, key="another-key-0123456789").status_code == 200
    # Unauthenticated callers cannot make it read the file on every request: the keys
    # are kept at least 60 s whatever SECRET_CACHE_TTL_SECONDS says, as from a secret.
    assert _file_reads(capsys.readouterr().out, "API_KEYS_FILE") == 1
    assert not [call for call in secrets.calls() if "absent" in call]


def test_a_rotated_keys_file_is_parsed_again(
    post: Callable[..., TestResponse], env: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No floor and no cache: every request reads the file, and the parsed keys must
    # follow the payload (they are cached by payload, not once for all).
    monkeypatch.setattr(auth, "CALLER_SECRET_MIN_TTL_SECONDS", 0.0)
    keys = _secret_file(tmp_path, "api-keys", API_KEY)
    env(API_KEYS=None, API_KEYS_FILE=str(keys), SECRET_CACHE_TTL_SECONDS="0")
    assert post({"dnids": "1"}).status_code == 200
    assert post({"dnids": "2"}).status_code == 200  # the same payload again: the cached parse
    keys.write_text("rotated-key-0123456789")
    assert_problem(post({"dnids": "3"}), 401, "unauthenticated")
    assert post({"dnids": "3"}, key="rotated-key-0123456789").status_code == 200


def test_a_missing_keys_file_is_a_retryable_503_naming_the_setting(
    post: Callable[..., TestResponse], env: Callable[..., None], sim: SimulatorControl, tmp_path: Path
) -> None:
    env(API_KEYS=None, API_KEYS_FILE=str(tmp_path / "not-mounted" / "keys"))
    problem = assert_problem(post({"dnids": "1"}), 503, "secret_unavailable")
    assert problem["retryable"] is True
    assert "API_KEYS_FILE" in problem["detail"] and "FileNotFoundError" in problem["detail"]
    assert sim.calls() == []


def test_an_empty_keys_file_is_not_configured(
    post: Callable[..., TestResponse], env: Callable[..., None], tmp_path: Path
) -> None:
    env(API_KEYS=None, API_KEYS_FILE=str(_secret_file(tmp_path, "api-keys", ",\n")))
    problem = assert_problem(post({"dnids": "1"}), 503, "not_configured")
    assert "API_KEYS_FILE holds no usable key" in problem["detail"]


def test_plan_signing_keys_from_a_file(
    post: Callable[..., TestResponse], env: Callable[..., None], secrets: FakeSecretManagerControl, tmp_path: Path
) -> None:
    path = _secret_file(tmp_path, "plan-signing-keys", PLAN_KEY + "\n")
    env(PLAN_SIGNING_KEYS_FILE=str(path), PLAN_SIGNING_KEYS_SECRET=ABSENT)
    preview = post({"dnids": "1,2", "dryRun": True}).get_json()
    assert preview["planToken"] and PLAN_KEY not in json.dumps(preview)
    applied = post({"planToken": preview["planToken"]}).get_json()
    assert applied["status"] == "deleted" and applied["planId"] == preview["planId"]
    assert not [call for call in secrets.calls() if "absent" in call]


def test_caller_policies_from_a_file(
    post: Callable[..., TestResponse], env: Callable[..., None], sim: SimulatorControl, tmp_path: Path
) -> None:
    path = _secret_file(tmp_path, "caller-policies", json.dumps({"*": {"dryRunOnly": True}}))
    env(CALLER_POLICIES_FILE=str(path), CALLER_POLICIES_SECRET=ABSENT)
    assert_problem(post({"dnids": "1"}), 403, "forbidden")
    assert post({"dnids": "1", "dryRun": True}).status_code == 200
    assert sim.calls("delete") == []


@pytest.mark.parametrize("name", ["API_KEYS_FILE", "PLAN_SIGNING_KEYS_FILE", "CALLER_POLICIES_FILE"])
def test_a_relative_path_is_not_configured(
    post: Callable[..., TestResponse], env: Callable[..., None], name: str
) -> None:
    env(**{name: "secrets/payload"})
    problem = assert_problem(post({"dnids": "1"}), 503, "not_configured")
    assert name in problem["detail"]


def test_inline_and_file_policies_together_are_not_configured(
    post: Callable[..., TestResponse], env: Callable[..., None], tmp_path: Path
) -> None:
    path = _secret_file(tmp_path, "caller-policies", json.dumps({"*": {}}))
    env(CALLER_POLICIES=json.dumps({"*": {}}), CALLER_POLICIES_FILE=str(path))
    assert "not both" in assert_problem(post({"dnids": "1"}), 503, "not_configured")["detail"]


def test_a_mounted_secret_is_cached_for_its_ttl(tmp_path: Path) -> None:
    now = [0.0]
    path = _secret_file(tmp_path, "s", "one")
    source = MountedSecret(str(path), setting="X_FILE", ttl_seconds=60, clock=lambda: now[0])
    assert source.read() == b"one"
    path.write_text("two")
    now[0] = 59.0
    assert source.read() == b"one"
    now[0] = 60.0
    assert source.read() == b"two"
    path.write_text("three")
    source.invalidate()
    assert source.read() == b"three"


# A fresh interpreter, as a cold instance is: with every secret a file, serving a
# deletion, a dry run with a plan token and a policy check never imports the client library.
_COLD_CHILD = """
import json, sys
import functions_framework
app = functions_framework.create_app(target="delete_called_route", source="main.py")
client = app.test_client()
def post(body):
    response = client.post("/", data=json.dumps(body), content_type="application/json",
                           headers={"X-API-Key": sys.argv[1]})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()
post({"dnids": "1"})
post({"planToken": post({"dnids": "2", "dryRun": True})["planToken"]})
loaded = sorted(m for m in sys.modules if m.startswith(("google.cloud.secretmanager", "grpc")))
print(json.dumps(loaded))
"""


def _modules_a_cold_instance_loaded(environment: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _COLD_CHILD, API_KEY],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_with_every_secret_a_file_no_request_imports_the_client_library(sim: SimulatorControl, tmp_path: Path) -> None:
    files = {
        "CEC_CREDENTIALS_FILE": json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}),
        "API_KEYS_FILE": f"n8n={API_KEY}",
        "PLAN_SIGNING_KEYS_FILE": PLAN_KEY,
        "CALLER_POLICIES_FILE": json.dumps({"*": {"maxRoutes": 10}}),
    }
    environment = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    environment |= {"CALLER_AUTH": "api_key", "CEC_BASE_URL": sim.base_url, "LOG_LEVEL": "WARNING"}
    environment |= {name: str(_secret_file(tmp_path, name.lower(), text)) for name, text in files.items()}
    assert _modules_a_cold_instance_loaded(environment) == []
    assert len(sim.calls("delete")) == 2


def test_the_same_with_a_secret_manager_setting_does_import_it(
    sim: SimulatorControl, secrets: FakeSecretManagerControl, tmp_path: Path
) -> None:
    """The control case: the check above can fail (a *_SECRET setting loads the library)."""
    secrets.add_version("projects/test-project/secrets/api-keys", f"n8n={API_KEY}")
    environment = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    environment |= {
        "CALLER_AUTH": "api_key",
        "CEC_BASE_URL": sim.base_url,
        "LOG_LEVEL": "WARNING",
        "CEC_CREDENTIALS_FILE": str(
            _secret_file(tmp_path, "cec", json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
        ),
        "API_KEYS_SECRET": "projects/test-project/secrets/api-keys/versions/latest",
        "SECRET_MANAGER_ENDPOINT": secrets.base_url,
        "PLAN_SIGNING_KEYS": PLAN_KEY,
    }
    assert "google.cloud.secretmanager" in _modules_a_cold_instance_loaded(environment)


def test_any_setting_read_from_a_secret_version_has_a_file_twin() -> None:
    """A new *_SECRET setting read at run time needs its *_FILE twin, or the deployments'
    default (every secret mounted) would load the client library for it."""
    from function.settings import Settings

    aliases = {str(field.alias) for field in Settings.model_fields.values() if field.alias}
    versions = {
        name for name in aliases if name.endswith("_SECRET") and name not in ("WEBHOOK_SECRET", "CEC_APP_SECRET")
    }
    assert versions == {
        "API_KEYS_SECRET",
        "CEC_CREDENTIALS_SECRET",
        "PLAN_SIGNING_KEYS_SECRET",
        "CALLER_POLICIES_SECRET",
    }
    assert {name.removesuffix("_SECRET") + "_FILE" for name in versions} <= aliases
