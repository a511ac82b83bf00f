"""A secret value is masked from the first log line written after it arrives.

Every line of a request carries its X-Request-Id, which the caller chooses. The
"secret read" line used to be written before the payload's values were registered
for masking, so a value that was just arriving (a rotated API key, say) sent as the
X-Request-Id reached the log in that line. Each secret source now registers a
payload's values before it logs the read. Lines written before a value arrives cannot
know it (the request's own answer echoes the id to the caller who chose it). Over
real HTTP to the simulator and the fake Secret Manager, every secret setting in both
forms.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import FakeSecretManagerControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from tests.conftest import API_KEY

# Each fits X-Request-Id's pattern ([A-Za-z0-9._:-], at most 128), so it is logged as given.
NEW_API_KEY = "rotated-api-key-3f9c1a7e"
SIGNING_KEY = "plan-signing-key-0123456789abcdef0123456789"
SECRETS_PREFIX = "projects/test-project/secrets/"


def _provide(kind: str, payload: str, tmp_path: Path, secrets: FakeSecretManagerControl, name: str) -> dict[str, str]:
    """The setting that names ``payload``: as a mounted file or a Secret Manager version."""
    if kind == "file":
        path = tmp_path / name
        path.write_text(payload)
        return {f"{name}_FILE": str(path)}
    secrets.add_version(SECRETS_PREFIX + name.lower(), payload)
    return {f"{name}_SECRET": SECRETS_PREFIX + name.lower() + "/versions/latest"}


def _send(client: FlaskClient, request_id: str, key: str, body: dict[str, Any]) -> Any:
    return client.post(
        "/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-API-Key": key, "X-Request-Id": request_id},
    )


def _lines_from_read(out: str, setting: str) -> list[str]:
    """The log lines from the one that logs ``setting``'s read onwards."""
    lines = out.splitlines()
    reads = [i for i, line in enumerate(lines) if '"secret read"' in line and f'"setting": "{setting}"' in line]
    assert reads, f"no read of {setting} was logged"
    return lines[reads[0] :]


@pytest.mark.parametrize("kind", ["file", "secret"])
def test_a_new_api_key_sent_as_request_id_never_reaches_the_log(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str,
) -> None:  # fmt: skip
    setting = _provide(kind, f"caller={NEW_API_KEY}", tmp_path, secrets, "API_KEYS")
    env(API_KEYS=None, **setting)
    capsys.readouterr()
    response = _send(client, NEW_API_KEY, NEW_API_KEY, {"dnids": "1"})
    assert response.status_code == 200, response.get_data(as_text=True)
    lines = _lines_from_read(capsys.readouterr().out, *setting)
    assert len(lines) >= 2  # the read, then at least the request's own line
    assert not [line for line in lines if NEW_API_KEY in line]


@pytest.mark.parametrize("kind", ["file", "secret"])
@pytest.mark.parametrize("value", [DEFAULT_APP_KEY, DEFAULT_APP_SECRET])
def test_the_ak_sk_sent_as_request_id_never_reach_the_log(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, value: str,
) -> None:  # fmt: skip
    payload = json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET})
    setting = _provide(kind, payload, tmp_path, secrets, "CEC_CREDENTIALS")
    env(**({"CEC_CREDENTIALS_SECRET": None} | setting))
    capsys.readouterr()
    response = _send(client, value, API_KEY, {"dnids": "1"})
    assert response.status_code == 200, response.get_data(as_text=True)
    lines = _lines_from_read(capsys.readouterr().out, *setting)
    assert len(lines) >= 2
    assert not [line for line in lines if value in line]


@pytest.mark.parametrize("kind", ["file", "secret"])
def test_a_plan_signing_key_sent_as_request_id_never_reaches_the_log(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str,
) -> None:  # fmt: skip
    setting = _provide(kind, SIGNING_KEY, tmp_path, secrets, "PLAN_SIGNING_KEYS")
    env(**setting)
    capsys.readouterr()
    response = _send(client, SIGNING_KEY, API_KEY, {"dnids": "1", "dryRun": True})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json().get("planToken"), "the dry run signed a plan with the key"
    lines = _lines_from_read(capsys.readouterr().out, *setting)
    assert len(lines) >= 2
    assert not [line for line in lines if SIGNING_KEY in line]
