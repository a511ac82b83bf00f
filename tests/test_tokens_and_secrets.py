"""Tokens and credentials: caching, renewal, rotation and concurrency, over real HTTP.

The Secret Manager path goes through the real google-cloud-secret-manager client to
the fake server on loopback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cec_sim import FakeSecretManagerControl, SimulatorControl
from tests.conftest import CREDENTIALS_SECRET
from tests.test_requests import assert_problem


def test_token_and_secret_are_reused_across_requests(
    post: Callable[..., Any], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    for dnid in (1, 2, 3):
        assert post({"dnids": [dnid]}).status_code == 200
    assert len(sim.calls("token")) == 1
    assert len(secrets.calls()) == 1
    tokens = {c["authorization"] for c in sim.calls("delete")}
    assert len(tokens) == 1
    assert sim.calls("token")[0]["tokenExpire"] == "600"


def test_token_ttl_setting_is_sent(post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]) -> None:
    env(CEC_TOKEN_TTL_SECONDS="3600")
    post({"dnids": "1"})
    assert sim.calls("token")[0]["tokenExpire"] == "3600"


def test_token_is_renewed_before_it_expires(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.configure(token_lifetime=3)  # the server grants less than asked; renew at 3 - 2 s margin
    assert post({"dnids": "1"}).status_code == 200
    assert post({"dnids": "2"}).status_code == 200
    assert len(sim.calls("token")) == 1
    time.sleep(1.2)
    assert post({"dnids": "3"}).status_code == 200
    assert len(sim.calls("token")) == 2
    # Renewed before expiry: the API never saw an expired token.
    assert all(c["status"] == 200 for c in sim.calls("delete"))


@pytest.mark.parametrize("expired_status", [401, 403])
def test_expired_token_is_renewed_once_and_the_call_retried(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None], expired_status: int
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    sim.configure(expired_token_status=expired_status)
    assert post({"dnids": "1"}).status_code == 200
    sim.advance_clock(3600)  # every issued token is now expired on the server
    response = post({"dnids": "2"})
    assert response.status_code == 200
    assert [c["status"] for c in sim.calls("delete")] == [200, expired_status, 200]
    assert len(sim.calls("token")) == 2


def test_api_refusing_a_fresh_token_too_is_502(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "times": 2, "status": 401})
    problem = assert_problem(post({"dnids": "1"}), 502, "upstream_auth_failed")
    assert problem["retryable"] is False
    assert len(sim.calls("delete")) == 2
    assert len(sim.calls("token")) == 2


def test_rejected_aksk_rereads_the_secret_once_then_502(
    post: Callable[..., Any], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    sim.configure(app_secret="rotated-on-the-server")
    problem = assert_problem(post({"dnids": "1"}), 502, "upstream_auth_failed")
    assert "CEC_CREDENTIALS_SECRET" not in problem["detail"] or "app_secret" not in problem["detail"].split(":")[0]
    assert "rotated-on-the-server" not in json.dumps(problem)
    assert len(sim.calls("token")) == 1  # the secret read again was the same: no second call
    assert len(secrets.calls()) == 2
    # The next requests within FAILURE_HOLD_SECONDS get the same answer without a call.
    for _ in range(3):
        again = assert_problem(post({"dnids": "1"}), 502, "upstream_auth_failed")
        assert "not asked again yet" in again["detail"]
    assert len(sim.calls("token")) == 1 and len(secrets.calls()) == 2


def test_rotated_secret_is_picked_up_after_rejection(
    post: Callable[..., Any], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    assert post({"dnids": "1"}).status_code == 200
    # The operator rotates the AK/SK: new version in Secret Manager, old one revoked.
    secrets.add_version(CREDENTIALS_SECRET, json.dumps({"app_key": "sim-app-key", "app_secret": "new-secret"}))
    sim.configure(app_secret="new-secret")
    sim.advance_clock(3600)
    response = post({"dnids": "2"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(secrets.calls()) == 2


def test_env_credentials_need_no_secret_manager(
    post: Callable[..., Any], sim: SimulatorControl, secrets: FakeSecretManagerControl, env: Callable[..., None]
) -> None:
    env(
        CEC_CREDENTIALS_SECRET=None,
        CEC_APP_KEY="sim-app-key",
        CEC_APP_SECRET="sim-app-secret",
        SECRET_MANAGER_ENDPOINT=None,
    )
    assert post({"dnids": "1"}).status_code == 200
    assert secrets.calls() == []


def test_wrong_env_credentials_are_502_without_a_second_try(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_CREDENTIALS_SECRET=None, CEC_APP_KEY="sim-app-key", CEC_APP_SECRET="wrong")
    problem = assert_problem(post({"dnids": "1"}), 502, "upstream_auth_failed")
    assert "CEC_APP_KEY/CEC_APP_SECRET" in problem["detail"]
    assert len(sim.calls("token")) == 1


def test_secret_is_reread_after_its_ttl(
    post: Callable[..., Any], secrets: FakeSecretManagerControl, env: Callable[..., None]
) -> None:
    env(SECRET_CACHE_TTL_SECONDS="1")
    assert post({"dnids": "1"}).status_code == 200
    assert post({"dnids": "2"}).status_code == 200
    assert len(secrets.calls()) == 1
    time.sleep(1.1)
    assert post({"dnids": "3"}).status_code == 200
    assert len(secrets.calls()) == 2


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ("app_key=a;app_secret=b", "not valid JSON"),
        ('["a", "b"]', "not a JSON object"),
        ('{"app_key": "a"}', "app_secret missing"),
        ('{"app_key": "", "app_secret": "s3cr3t-canary"}', "app_key missing"),
    ],
)
def test_unusable_secret_is_500_misconfigured_naming_it_not_showing_it(
    post: Callable[..., Any], secrets: FakeSecretManagerControl, sim: SimulatorControl, payload: str, fragment: str
) -> None:
    secrets.add_version(CREDENTIALS_SECRET, payload)
    problem = assert_problem(post({"dnids": "1"}), 500, "misconfigured")
    assert CREDENTIALS_SECRET in problem["detail"]
    assert fragment in problem["detail"]
    assert payload not in json.dumps(problem) and "s3cr3t-canary" not in json.dumps(problem)
    assert sim.calls() == []


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"status": 403}, "permission denied"),
        ({"status": 404}, "does not exist"),
        ({"status": 503, "times": 10}, "did not answer"),
        ({"drop": "reset", "times": 10}, "did not answer"),
    ],
)
def test_unreadable_secret_is_503_retryable(
    post: Callable[..., Any],
    secrets: FakeSecretManagerControl,
    sim: SimulatorControl,
    rule: dict[str, Any],
    fragment: str,
) -> None:
    secrets.inject(rule)
    started = time.monotonic()
    problem = assert_problem(post({"dnids": "1"}), 503, "secret_unavailable")
    assert time.monotonic() - started < 12  # bounded: 2 x SECRET_TIMEOUT_SECONDS at most
    assert problem["retryable"] is True
    assert fragment in problem["detail"]
    assert sim.calls() == []


def test_transient_secret_failure_is_retried(post: Callable[..., Any], secrets: FakeSecretManagerControl) -> None:
    secrets.inject({"status": 503, "times": 1})
    assert post({"dnids": "1"}).status_code == 200
    assert len(secrets.calls()) == 2


def test_unreachable_secret_manager_fails_within_its_bound(post: Callable[..., Any], env: Callable[..., None]) -> None:
    env(SECRET_MANAGER_ENDPOINT="http://127.0.0.1:9", SECRET_TIMEOUT_SECONDS="1")
    started = time.monotonic()
    assert_problem(post({"dnids": "1"}), 503, "secret_unavailable")
    assert time.monotonic() - started < 5


def test_concurrent_cold_requests_make_one_token_call(
    app: Any, env: Callable[..., None], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    from tests.conftest import API_KEY

    sim.configure(latency=0.2)  # keep the first token call in flight while the others arrive
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def one(dnid: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/", json={"dnids": [dnid]}, headers={"X-API-Key": API_KEY})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=one, args=(d,)) for d in range(10, 26)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200] * 16
    assert len(sim.calls("token")) == 1
    assert len(secrets.calls()) == 1
    assert len(sim.calls("delete")) == 16
