"""A slow-drip upstream: the request budget is a wall-clock promise at every stage.

The simulator (and the fake Secret Manager) answer one byte every DRIP seconds, the
whole answer or its body only. ``requests``' timeout bounds each read, so before the
fix a dripped tokenByAkSk answer held a request for a minute; now every stage
answers within REQUEST_BUDGET_SECONDS plus MARGIN. The simulator gives a drip up
after DRIP_MAX seconds, so that a regression fails in bounded time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.function_server import FunctionServer
from function.cec.tokens import FAILURE_HOLD_SECONDS as TOKEN_FAILURE_HOLD_SECONDS
from function.secret_manager import FAILURE_HOLD_SECONDS
from tests.conftest import API_KEY, CREDENTIALS_SECRET, server_env
from tests.test_requests import assert_problem

BUDGET = 5.0
CEC_TIMEOUT = 3.0
SECRET_TIMEOUT = 3.0
MARGIN = 1.0
DRIP = 0.5  # seconds per byte: a token answer would take minutes
DRIP_MAX = 25.0
ALWAYS = 100

# What each stage answers when its upstream drips: the status and code, and how long
# the answer may take at most (the stage's own bound, inside the request budget).
EXPECTED = {
    "secret": (503, "secret_unavailable"),
    "token": (504, "upstream_timeout"),
    "query": (504, "upstream_timeout"),
    "delete": (504, "upstream_timeout"),
}


def _drip(stage: str, *, body_only: bool) -> dict[str, Any]:
    return {
        "stage": "access" if stage == "secret" else stage,
        "drip": DRIP,
        "dripBodyOnly": body_only,
        "dripMaxSeconds": DRIP_MAX,
        "times": ALWAYS,
    }


def _body(stage: str) -> dict[str, Any]:
    # The lookup is reached by a dry run with a selector; the others by a plain delete.
    return {"routes": [{"accessCode": "9911411"}], "dryRun": True} if stage == "query" else {"dnids": "1"}


@pytest.fixture
def dripping(env: Callable[..., None]) -> None:
    env(
        REQUEST_BUDGET_SECONDS=str(BUDGET),
        CEC_TIMEOUT_SECONDS=str(CEC_TIMEOUT),
        SECRET_TIMEOUT_SECONDS=str(SECRET_TIMEOUT),
    )


@pytest.mark.parametrize("body_only", [False, True], ids=["whole-answer", "body-only"])
@pytest.mark.parametrize("stage", list(EXPECTED))
def test_every_stage_answers_within_the_budget_under_a_drip(
    dripping: None,
    post: Callable[..., Any],
    sim: SimulatorControl,
    secrets: FakeSecretManagerControl,
    stage: str,
    body_only: bool,
) -> None:
    rule = _drip(stage, body_only=body_only)
    if stage == "secret":
        secrets.inject(rule)
    else:
        sim.inject(rule)
    started = time.monotonic()
    response = post(_body(stage))
    elapsed = time.monotonic() - started
    print(f"drip {stage} {'body-only' if body_only else 'whole'}: {elapsed:.2f} s (budget {BUDGET:g} s)")
    assert elapsed < BUDGET + MARGIN, f"{stage}: answered after {elapsed:.1f} s"
    if stage == "delete":
        # The delete was sent and its answer lost: the outcome is settled or left
        # unknown, but the answer is on time and says the truth either way.
        assert response.status_code in (200, 207, 504), response.get_data(as_text=True)
        return
    status, code = EXPECTED[stage]
    problem = assert_problem(response, status, code)
    assert problem["retryable"] is True
    if stage == "query":
        assert sim.calls("delete") == []


def test_an_oversized_upstream_answer_is_refused(
    dripping: None, post: Callable[..., Any], sim: SimulatorControl
) -> None:
    huge = {"returnCode": "1", "description": "x" * (5 * 1024 * 1024)}
    sim.inject({"stage": "delete", "json": huge})
    response = post({"dnids": "1"})
    problem = assert_problem(response, 502, "upstream_bad_response")
    assert "bytes" in problem["detail"]
    assert len(response.get_data()) < 4096


@pytest.fixture
def server(sim: SimulatorControl, secrets: FakeSecretManagerControl, tmp_path: Path) -> Iterator[str]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
        REQUEST_BUDGET_SECONDS=str(BUDGET),
        CEC_TIMEOUT_SECONDS=str(CEC_TIMEOUT),
        SECRET_TIMEOUT_SECONDS=str(SECRET_TIMEOUT),
        SECRET_CACHE_TTL_SECONDS="0",
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running.url


@pytest.mark.parametrize("stage", ["secret", "token"])
def test_the_real_server_answers_a_dripped_upstream_within_the_budget(
    server: str, sim: SimulatorControl, secrets: FakeSecretManagerControl, stage: str
) -> None:
    (secrets if stage == "secret" else sim).inject(_drip(stage, body_only=False))
    started = time.monotonic()
    response = requests.post(server, json={"dnids": "1"}, headers={"X-API-Key": API_KEY}, timeout=60)
    elapsed = time.monotonic() - started
    print(f"real server, drip {stage}: {elapsed:.2f} s (budget {BUDGET:g} s)")
    assert elapsed < BUDGET + MARGIN
    status, code = EXPECTED[stage]
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["code"] == code
    # The instance is not worse for it: the next request (no fault) goes through,
    # once the failed secret read or token fetch is no longer held.
    sim.clear_faults()
    secrets.clear_faults()
    time.sleep(FAILURE_HOLD_SECONDS if stage == "secret" else TOKEN_FAILURE_HOLD_SECONDS)
    assert requests.post(server, json={"dnids": "1"}, headers={"X-API-Key": API_KEY}, timeout=30).status_code == 200


def test_requests_queued_behind_a_dripped_token_fetch_answer_within_their_budget(
    dripping: None, app: Any, sim: SimulatorControl
) -> None:
    """Cold instance, four requests at once, tokenByAkSk dripping: none waits in turn."""
    sim.inject(_drip("token", body_only=True))
    barrier = threading.Barrier(4)
    times: list[float] = []
    statuses: list[int] = []

    def one() -> None:
        barrier.wait()
        started = time.monotonic()
        response = app.test_client().post("/", json={"dnids": "1"}, headers={"X-API-Key": API_KEY})
        times.append(time.monotonic() - started)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    print(f"queued behind a dripped token: longest {max(times):.2f} s (budget {BUDGET:g} s)")
    assert statuses == [504] * 4
    assert max(times) < BUDGET + MARGIN
