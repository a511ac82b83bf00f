"""Caller authentication: each method, combinations, failures, and missing configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import FakeSecretManagerControl, SimulatorControl
from tests.test_requests import assert_problem

WEBHOOK_KEY = b"0123456789abcdef0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
BODY = json.dumps({"dnids": "1"}).encode()


def signed_headers(
    body: bytes, *, key: bytes = WEBHOOK_KEY, at: float | None = None, msg_id: str = "msg_1"
) -> dict[str, str]:
    """Standard Webhooks headers, computed here independently of the library."""
    timestamp = str(int(at if at is not None else time.time()))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def send(client: FlaskClient, headers: dict[str, str], body: bytes = BODY) -> Any:
    return client.post("/", data=body, content_type="application/json", headers=headers)


def test_api_key_accepts_any_listed_key(client: FlaskClient, env: Callable[..., None]) -> None:
    env(API_KEYS="first-key, second-key")
    assert send(client, {"X-API-Key": "second-key"}).status_code == 200
    assert_problem(send(client, {"X-API-Key": "second-ke"}), 401, "unauthenticated")
    problem = assert_problem(send(client, {}), 401, "unauthenticated")
    assert "no X-API-Key header" in problem["detail"]


def test_api_keys_from_secret_manager(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl
) -> None:
    secrets.add_version("projects/test-project/secrets/api-keys", '["alpha-key", "beta-key"]')
    env(API_KEYS=None, API_KEYS_SECRET="projects/test-project/secrets/api-keys/versions/1")
    assert send(client, {"X-API-Key": "beta-key"}).status_code == 200
    assert send(client, {"X-API-Key": "alpha-key"}).status_code == 200  # dnid 1 already gone: converged
    assert_problem(send(client, {"X-API-Key": "gamma-key"}), 401, "unauthenticated")
    key_reads = [c for c in secrets.calls() if "api-keys" in c]
    assert len(key_reads) == 1  # cached


def test_unreadable_api_keys_secret_is_503_without_naming_it(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(API_KEYS=None, API_KEYS_SECRET="projects/test-project/secrets/missing/versions/1")
    problem = assert_problem(send(client, {"X-API-Key": "x"}), 503, "secret_unavailable")
    assert problem["retryable"] is True
    assert "API_KEYS_SECRET" in problem["detail"]
    assert "projects/test-project" not in problem["detail"]  # the caller is not yet authenticated
    assert sim.calls() == []


def test_webhook_signature_accepted(client: FlaskClient, env: Callable[..., None]) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    assert send(client, signed_headers(BODY)).status_code == 200


def test_webhook_any_of_several_signatures(client: FlaskClient, env: Callable[..., None]) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    headers = signed_headers(BODY)
    old = signed_headers(BODY, key=b"an-old-rotated-secret-key-000000")["webhook-signature"]
    headers["webhook-signature"] = f"{old} v2,ignored {headers['webhook-signature']}"
    assert send(client, headers).status_code == 200


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda h: h.pop("webhook-signature"), "missing header webhook-signature"),
        (lambda h: h.update({"webhook-signature": "v1" + h["webhook-signature"][3:]}), "malformed"),
        (lambda h: h.update({"webhook-signature": "v1,@@not-base64@@"}), "malformed"),
        (lambda h: h.update({"webhook-timestamp": "yesterday"}), "not a Unix time"),
        (lambda h: h.update({"webhook-timestamp": str(int(time.time()) - 301)}), "more than 5 minutes old"),
        (lambda h: h.update({"webhook-timestamp": str(int(time.time()) + 301)}), "in the future"),
        (lambda h: h.update({"webhook-id": "msg_2"}), "no webhook-signature matches"),
    ],
)
def test_webhook_failures_are_401_never_500(
    client: FlaskClient,
    env: Callable[..., None],
    sim: SimulatorControl,
    mutate: Callable[[dict[str, str]], Any],
    fragment: str,
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    headers = signed_headers(BODY)
    mutate(headers)
    problem = assert_problem(send(client, headers), 401, "unauthenticated")
    assert fragment in problem["detail"]
    assert sim.calls() == []


def test_webhook_signed_body_that_is_not_json_is_400(client: FlaskClient, env: Callable[..., None]) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    body = b"dnids=1"
    assert_problem(send(client, signed_headers(body), body), 400, "malformed_json")
    # Correctly signed but not UTF-8: the signature holds, so it is the body's fault.
    body = b"\xff\xfe"
    problem = assert_problem(send(client, signed_headers(body), body), 400, "malformed_json")
    assert "UTF-8" in problem["detail"]


def test_tampered_body_is_401(client: FlaskClient, env: Callable[..., None]) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    headers = signed_headers(BODY)
    assert_problem(send(client, headers, json.dumps({"dnids": "1,2,3"}).encode()), 401, "unauthenticated")


def test_any_listed_method_may_accept(client: FlaskClient, env: Callable[..., None]) -> None:
    env(CALLER_AUTH="api_key,webhook", WEBHOOK_SECRET=WEBHOOK_SECRET)
    assert send(client, signed_headers(BODY)).status_code == 200
    problem = assert_problem(send(client, {}), 401, "unauthenticated")
    assert "api_key:" in problem["detail"] and "webhook:" in problem["detail"]


def test_none_warns_in_the_logs_of_every_request(
    client: FlaskClient, env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    env(CALLER_AUTH="none", API_KEYS=None)
    capsys.readouterr()
    assert send(client, {}).status_code == 200
    assert send(client, {}, json.dumps({"dnids": "2"}).encode()).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    warnings = [line for line in lines if "CALLER_AUTH=none" in line["message"]]
    assert len(warnings) == 2
    assert all(w["severity"] == "WARNING" for w in warnings)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"CALLER_AUTH": None}, "CALLER_AUTH is not set"),
        ({"CALLER_AUTH": "api_key", "API_KEYS": None}, "none of API_KEYS, API_KEYS_FILE, API_KEYS_SECRET"),
        ({"CALLER_AUTH": "webhook"}, "WEBHOOK_SECRET is not set"),
        ({"CALLER_AUTH": "webhook", "WEBHOOK_SECRET": "not-a-secret"}, "not a Standard Webhooks secret"),
        ({"CALLER_AUTH": "api_key,password"}, "CALLER_AUTH"),
        ({"CEC_BASE_URL": None}, "CEC_BASE_URL is not set"),
        ({"CEC_CREDENTIALS_SECRET": None}, "No CEC credentials"),
        ({"CEC_CREDENTIALS_SECRET": None, "CEC_APP_KEY": "k"}, "No CEC credentials"),
        ({"CEC_CREDENTIALS_SECRET": "my-secret"}, "CEC_CREDENTIALS_SECRET"),
        ({"CEC_BATCH_SIZE": "5000"}, "CEC_BATCH_SIZE"),
        ({"CEC_TOKEN_TTL_SECONDS": "10"}, "CEC_TOKEN_TTL_SECONDS"),
    ],
)
def test_missing_configuration_is_503_not_configured(
    client: FlaskClient,
    env: Callable[..., None],
    sim: SimulatorControl,
    overrides: dict[str, str | None],
    fragment: str,
) -> None:
    env(**overrides)
    problem = assert_problem(send(client, {"X-API-Key": "anything"}), 503, "not_configured")
    assert fragment in problem["detail"]
    assert problem["retryable"] is False
    assert sim.calls() == []
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["configured"] is False


def test_named_api_keys_name_the_caller_in_the_summary_never_the_key(
    client: FlaskClient, env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    env(API_KEYS="ops=first-key-0123, second-key-4567, padded-key==")
    capsys.readouterr()
    assert send(client, {"X-API-Key": "first-key-0123"}).status_code == 200
    assert send(client, {"X-API-Key": "second-key-4567"}, json.dumps({"dnids": "2"}).encode()).status_code == 200
    assert send(client, {"X-API-Key": "padded-key=="}, json.dumps({"dnids": "3"}).encode()).status_code == 200
    output = capsys.readouterr().out
    callers = [json.loads(line).get("caller") for line in output.splitlines() if '"POST / 200"' in line]
    fingerprint = "key-" + hashlib.sha256(b"second-key-4567").hexdigest()[:12]
    padded = "key-" + hashlib.sha256(b"padded-key==").hexdigest()[:12]
    assert callers == ["api_key:ops", f"api_key:{fingerprint}", f"api_key:{padded}"]
    assert "first-key-0123" not in output and "second-key-4567" not in output
