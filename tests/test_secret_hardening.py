"""Secrets as they are deployed: values pasted with a newline, mounted files that block,
and configurations that cannot serve saying so on /healthz.

The real server process (gunicorn) where the issue is the server's (a blocked read, the
health check, the environment's values), the function in-process against the simulator
and the fake Secret Manager over real HTTP for the per-secret, per-source matrix.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.test import TestResponse

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from function.budget import Deadline
from function.callers.auth import key_fingerprint
from function.errors import SecretUnavailable
from function.secret_source import MountedSecret
from tests.conftest import API_KEY, server_env
from tests.test_hardening_http import SIGNING_KEY, WEBHOOK_SECRET, payload_of, sign, webhook_request

# What people paste around a value: a file written by `cmd > file`, CRLF, a stray tab.
PADDED = "\r\n {} \t\n"
POLICIES = json.dumps({"*": {}})


@contextlib.contextmanager
def running(env: dict[str, str], log_path: Path) -> Iterator[FunctionServer]:
    """A server that may start unconfigured (the tests look at /healthz themselves)."""
    server = FunctionServer(env, log_path)
    try:
        yield server.start(require_configured=False)
    finally:
        server.stop()


def healthz(server: FunctionServer) -> dict[str, Any]:
    answer = requests.get(server.url + "/healthz", timeout=10)
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def call(server: FunctionServer, body: dict[str, Any], timeout: float = 30) -> requests.Response:
    return requests.post(server.url, json=body, headers={"X-API-Key": API_KEY}, timeout=timeout)


# -- item 8: every secret in the environment, pasted with whitespace around it ----------


def test_secret_values_in_the_environment_are_trimmed(sim_server: Any, sim: SimulatorControl, tmp_path: Path) -> None:
    env = server_env(
        CALLER_AUTH="api_key,webhook",
        API_KEYS=PADDED.format(API_KEY),
        WEBHOOK_SECRET=WEBHOOK_SECRET + "\n",  # `send_webhook.py --generate-secret > file`, then --data-file=file
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=PADDED.format(DEFAULT_APP_KEY),
        CEC_APP_SECRET=PADDED.format(DEFAULT_APP_SECRET),
        PLAN_SIGNING_KEYS=PADDED.format(SIGNING_KEY),
        CALLER_POLICIES=PADDED.format(POLICIES),
        IDEMPOTENCY_TTL_SECONDS="0",
    )
    with running(env, tmp_path / "server.log") as server:
        assert healthz(server)["configured"] is True
        signed = webhook_request(server.port, b"msg_trimmed", b'{"dnids":"1"}')
        assert (signed.status, signed.json()["status"]) == (200, "deleted"), signed.body[:300]
        token = call(server, {"dnids": "2", "dryRun": True}).json()["planToken"]
        # Signed with the key as it is meant, without the newline: the key was trimmed.
        resigned = sign(json.dumps(payload_of(token), separators=(",", ":")).encode(), SIGNING_KEY)
        answer = call(server, {"planToken": resigned})
        assert (answer.status_code, answer.json()["status"]) == (200, "deleted"), answer.text
    assert [c["body"]["dnids"] for c in sim.calls("delete")] == ["1", "2"]


# -- item 8: the same for every secret from every source --------------------------------

SECRETS = ["API_KEYS", "PLAN_SIGNING_KEYS", "CEC_CREDENTIALS", "CALLER_POLICIES"]
PLAN_KEY = "plan-key-for-the-trimming-matrix-0123456789"


def _value(secret: str) -> str:
    credentials = json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET})
    return {"API_KEYS": API_KEY, "PLAN_SIGNING_KEYS": PLAN_KEY, "CEC_CREDENTIALS": credentials}.get(secret, POLICIES)


def _configure(
    secret: str, source: str, env: Callable[..., None], secrets: FakeSecretManagerControl, tmp_path: Path
) -> None:
    payload = PADDED.format(_value(secret))
    settings: dict[str, str | None] = {
        "API_KEYS": API_KEY,
        "PLAN_SIGNING_KEYS": PLAN_KEY,
        "CEC_APP_KEY": DEFAULT_APP_KEY,
        "CEC_APP_SECRET": DEFAULT_APP_SECRET,
        "CEC_CREDENTIALS_SECRET": None,
    }
    if secret == "CEC_CREDENTIALS":
        settings.update(CEC_APP_KEY=None, CEC_APP_SECRET=None)
    else:
        settings[secret] = None
    if source == "env":
        if secret == "CEC_CREDENTIALS":
            settings.update(
                CEC_APP_KEY=PADDED.format(DEFAULT_APP_KEY), CEC_APP_SECRET=PADDED.format(DEFAULT_APP_SECRET)
            )
        else:
            settings[secret] = payload
    elif source == "file":
        path = tmp_path / secret.lower()
        path.write_text(payload)
        settings[f"{secret}_FILE"] = str(path)
    else:
        name = f"projects/test-project/secrets/trim-{secret.lower().replace('_', '-')}"
        secrets.add_version(name, payload)
        settings[f"{secret}_SECRET"] = name + "/versions/latest"
    env(**settings)


@pytest.mark.parametrize("source", ["env", "file", "secret_manager"])
@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_from_every_source_is_trimmed(
    client: Any,
    env: Callable[..., None],
    secrets: FakeSecretManagerControl,
    sim: SimulatorControl,
    tmp_path: Path,
    secret: str,
    source: str,
) -> None:
    _configure(secret, source, env, secrets, tmp_path)

    def post(body: dict[str, Any]) -> TestResponse:
        response: TestResponse = client.post("/", json=body, headers={"X-API-Key": API_KEY})
        return response

    dry = post({"dnids": "1", "dryRun": True})
    assert dry.status_code == 200, dry.get_data(as_text=True)
    payload = payload_of(dry.get_json()["planToken"])
    assert payload["scope"] == "api_key:" + key_fingerprint(API_KEY)
    # Signed by the test with the key itself, without whitespace: it verifies only if
    # the function trimmed the key it read.
    answer = post({"planToken": sign(json.dumps(payload, separators=(",", ":")).encode(), PLAN_KEY)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["status"] == "deleted"
    token_calls = sim.calls("token")
    assert token_calls and token_calls[-1]["body"]["app_key"] == DEFAULT_APP_KEY


# -- item 5: a secret file whose read blocks ---------------------------------------------


def _unblock(fifo: Path, content: bytes) -> None:
    """Writes ``content`` to the FIFO's blocked reader, if it still has one; never waits."""
    with contextlib.suppress(OSError):
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)


def test_a_blocked_secret_file_fails_requests_in_time_and_spares_healthz(
    sim_server: Any, sim: SimulatorControl, tmp_path: Path
) -> None:
    fifo = tmp_path / "api-keys"
    os.mkfifo(fifo)  # its read blocks until a writer comes, as a stalled mount does
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS_FILE=str(fifo),
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
        SECRET_TIMEOUT_SECONDS="1",
        THREADS="4",
    )
    try:
        with running(env, tmp_path / "server.log") as server:
            # More requests than the server has threads: each must be answered, none
            # may hold its thread for the read (the client timeout only catches a hang).
            answers: list[tuple[int, str | None]] = []

            def one() -> None:
                response = call(server, {"dnids": "1"}, timeout=20)
                answers.append((response.status_code, response.json().get("code")))

            threads = [threading.Thread(target=one) for _ in range(12)]
            for thread in threads:
                thread.start()
            health = healthz(server)
            for thread in threads:
                thread.join(30)
            assert answers == [(503, "secret_unavailable")] * 12
            assert health["status"] == "ok"
            assert healthz(server)["status"] == "ok"

            # The mount answers again: the read in flight ends and its keys are used.
            _unblock(fifo, f"{API_KEY}\n".encode())
            statuses = []
            for _ in range(50):  # the read's thread takes the payload: bounded wait
                statuses.append(call(server, {"dnids": "1", "dryRun": True}).status_code)
                if statuses[-1] == 200:
                    break
                threading.Event().wait(0.1)
            assert statuses[-1] == 200, statuses
    finally:
        _unblock(fifo, b"")


# -- item 9: a configuration that cannot serve says so ----------------------------------


def test_an_empty_keys_file_is_not_configured_on_healthz(sim_server: Any, tmp_path: Path) -> None:
    keys = tmp_path / "api-keys"
    keys.write_text("\n")
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS_FILE=str(keys),
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
    )
    with running(env, tmp_path / "server.log") as server:
        answer = call(server, {"dnids": "1"})
        assert (answer.status_code, answer.json()["code"]) == (503, "not_configured")
        assert "API_KEYS_FILE holds no usable key" in answer.json()["detail"]
        assert healthz(server)["configured"] is False


def test_healthz_learns_an_empty_keys_file_without_a_request(sim_server: Any, tmp_path: Path) -> None:
    keys = tmp_path / "api-keys"
    keys.write_text(" , \n")
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS_FILE=str(keys),
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
    )
    with running(env, tmp_path / "server.log") as server:
        # The first health check starts the read and does not wait for it; a later one knows.
        seen = []
        for _ in range(50):
            seen.append(healthz(server)["configured"])
            if seen[-1] is False:
                break
            threading.Event().wait(0.1)
        assert seen[-1] is False, seen


@pytest.mark.parametrize("other", ["API_KEYS_FILE", "API_KEYS_SECRET"])
def test_api_keys_and_a_keys_file_or_secret_together_are_not_configured(
    sim_server: Any, tmp_path: Path, other: str
) -> None:
    keys = tmp_path / "api-keys"
    keys.write_text("file-key-0123456789\n")
    value = str(keys) if other == "API_KEYS_FILE" else "projects/p/secrets/api-keys/versions/1"
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
        **{other: value},
    )
    with running(env, tmp_path / "server.log") as server:
        assert healthz(server)["configured"] is False
        answer = call(server, {"dnids": "1"})
        assert (answer.status_code, answer.json()["code"]) == (503, "not_configured")
        assert "Set API_KEYS or an API_KEYS_FILE/_SECRET, not both." in answer.json()["detail"]


def test_while_a_read_hangs_others_get_the_cached_value_then_503_at_once(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_bytes(b"old")
    now = [0.0]
    source = MountedSecret(
        str(path), setting="API_KEYS_FILE", ttl_seconds=60, timeout_seconds=0.5, clock=lambda: now[0]
    )
    assert source.read() == b"old"
    path.unlink()
    os.mkfifo(path)
    now[0] = 61.0  # the cached value is stale: the next request reads again
    try:
        with pytest.raises(SecretUnavailable):
            source.read(Deadline(0.05))  # the reader's own budget runs out; the read goes on
        assert source.read() == b"old"  # another request meanwhile: the cached value, no wait
        threading.Event().wait(0.6)  # past the read's bound
        with pytest.raises(SecretUnavailable):
            source.read()  # refused at once: nobody waits for a read past its bound
        _unblock(path, b"new")
        for _ in range(50):  # the read's thread takes the payload: bounded wait
            if source.peek() == b"new":
                break
            threading.Event().wait(0.05)
        assert source.read() == b"new"
    finally:
        _unblock(path, b"")
