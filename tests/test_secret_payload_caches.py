"""What is derived from a secret's payload (the AK/SK parsed from the credentials file or
secret, the API keys parsed and hashed from API_KEYS_SECRET) is built once per payload,
not on every request; a rotated payload is parsed, used and masked from the first
request that reads it. Over real HTTP to the simulator and the fake Secret Manager."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from function import runtime
from tests.conftest import CREDENTIALS_SECRET
from tests.test_auth import send

NEW_KEY, NEW_SECRET = "rotated-app-key-5b7e1", "rotated-app-secret-c93a0"
KEYS_SECRET = "projects/test-project/secrets/api-keys"


def _echoing_delete(sim: SimulatorControl) -> None:
    # An upstream that quotes the AK/SK and token it was sent, in a refusal.
    sim.inject({"stage": "delete", "returnCode": "1", "echoSecrets": True})


def _assert_masked(text: str, logs: str, secrets: list[str]) -> None:
    assert "[redacted]" in text
    for secret in secrets:
        assert secret not in text
        assert secret not in logs


@pytest.mark.parametrize("source", ["file", "secret"])
def test_rotated_credentials_are_used_and_masked_from_their_first_read(
    post: Callable[..., Any],
    env: Callable[..., None],
    sim: SimulatorControl,
    secrets: FakeSecretManagerControl,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    if source == "file":
        env(CEC_CREDENTIALS_FILE=str(path), SECRET_CACHE_TTL_SECONDS="0")
    else:
        env(SECRET_CACHE_TTL_SECONDS="0")
    for dnid in ("1", "2"):  # the same payload twice: parsed once, used twice
        assert post({"dnids": dnid}).status_code == 200
    rotated = json.dumps({"app_key": NEW_KEY, "app_secret": NEW_SECRET})
    if source == "file":
        path.write_text(rotated)
    else:
        secrets.add_version(CREDENTIALS_SECRET, rotated)
    sim.configure(app_key=NEW_KEY, app_secret=NEW_SECRET)
    _echoing_delete(sim)
    capsys.readouterr()
    response = post({"dnids": "3"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert [c["appKey"] for c in sim.calls("delete")] == [DEFAULT_APP_KEY, DEFAULT_APP_KEY, NEW_KEY]
    # The new key was asked for a token at once: the cache did not hand out the old AK/SK.
    assert [c["body"]["app_key"] for c in sim.calls("token")] == [DEFAULT_APP_KEY, NEW_KEY]
    _assert_masked(response.get_data(as_text=True), capsys.readouterr().out, [NEW_KEY, NEW_SECRET, *sim.tokens()])


def test_rotated_api_keys_are_parsed_used_and_masked(
    client: FlaskClient,
    env: Callable[..., None],
    sim: SimulatorControl,
    secrets: FakeSecretManagerControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets.add_version(KEYS_SECRET, '["alpha-caller-key-0001"]')
    env(API_KEYS=None, API_KEYS_SECRET=KEYS_SECRET + "/versions/latest")
    assert send(client, {"X-API-Key": "alpha-caller-key-0001"}).status_code == 200
    secrets.add_version(KEYS_SECRET, '["beta-caller-key-0002"]')
    # Caller keys are cached for at least a minute: end that as the clock would.
    runtime.get_runtime().secrets.invalidate(KEYS_SECRET + "/versions/latest")
    assert send(client, {"X-API-Key": "beta-caller-key-0002"}).status_code == 200  # read, parsed, registered
    assert send(client, {"X-API-Key": "alpha-caller-key-0001"}).status_code == 401
    capsys.readouterr()
    # From the cached keys now: a request id the caller chose is logged, and one equal
    # to the new key is masked, so the keys were registered when their payload was parsed.
    response = send(client, {"X-API-Key": "beta-caller-key-0002", "X-Request-Id": "beta-caller-key-0002"})
    assert response.status_code == 200, response.get_data(as_text=True)
    logs = capsys.readouterr().out
    assert '"requestId": "[redacted]"' in logs
    assert "beta-caller-key-0002" not in logs
    assert sum(1 for call in secrets.calls() if "api-keys" in call) == 2  # one read per payload
