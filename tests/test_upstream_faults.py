"""Every upstream fault, at the token and delete stages, from one table.

Each row: the fault the simulator injects, then the status, code, ``retryable`` and
number of attempts the function must show. Adding a fault is adding a row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from cec_sim import SimulatorControl
from tests.test_requests import assert_problem


class Row(NamedTuple):
    name: str
    fault: dict[str, Any]
    status: int
    code: str
    retryable: bool
    attempts: int


ALWAYS = 100  # times: enough to outlast every retry

DELETE_ROWS = [
    Row("reset", {"drop": "reset", "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("closed", {"drop": "close", "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("cut mid-answer", {"drop": "mid", "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("timeout", {"delay": 1.5, "times": ALWAYS}, 504, "upstream_timeout", True, 1),
    Row("400", {"status": 400}, 502, "upstream_rejected", False, 1),
    Row("401 twice", {"status": 401, "times": 2}, 502, "upstream_auth_failed", False, 2),
    Row("403 twice", {"status": 403, "times": 2}, 502, "upstream_auth_failed", False, 2),
    Row("404", {"status": 404}, 502, "upstream_rejected", False, 1),
    Row("429", {"status": 429, "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row(
        "429 long Retry-After", {"status": 429, "headers": {"Retry-After": "120"}}, 503, "upstream_unavailable", True, 1
    ),
    Row("500", {"status": 500}, 502, "upstream_rejected", False, 1),
    Row("502", {"status": 502, "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("503", {"status": 503, "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("504", {"status": 504, "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("200 html", {"status": 200, "body": "html"}, 502, "upstream_bad_response", True, 1),
    Row("200 truncated", {"status": 200, "body": "truncated"}, 502, "upstream_bad_response", True, 1),
    Row("200 wrong shape", {"status": 200, "body": "wrong_shape"}, 502, "upstream_bad_response", True, 1),
    Row("200 empty", {"status": 200, "body": "empty"}, 502, "upstream_bad_response", True, 1),
]

TOKEN_ROWS = [
    Row("reset", {"drop": "reset", "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("timeout", {"delay": 1.5, "times": ALWAYS}, 504, "upstream_timeout", True, 1),
    # Any other non-200 is a refusal of the AK/SK; the secret is re-read once.
    Row("400", {"status": 400, "times": ALWAYS}, 502, "upstream_auth_failed", False, 2),
    Row("401", {"status": 401, "times": ALWAYS}, 502, "upstream_auth_failed", False, 2),
    Row("403", {"status": 403, "times": ALWAYS}, 502, "upstream_auth_failed", False, 2),
    Row("418 firewall page", {"status": 418, "body": "html", "times": ALWAYS}, 502, "upstream_auth_failed", False, 2),
    Row("500", {"status": 500, "times": ALWAYS}, 502, "upstream_auth_failed", False, 2),
    Row("429", {"status": 429, "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("503", {"status": 503, "times": ALWAYS}, 503, "upstream_unavailable", True, 3),
    Row("200 html", {"status": 200, "body": "html"}, 502, "upstream_bad_response", True, 1),
    Row("200 without token", {"status": 200, "body": "wrong_shape"}, 502, "upstream_bad_response", True, 1),
]


@pytest.fixture
def faulty(env: Callable[..., None]) -> None:
    env(CEC_TIMEOUT_SECONDS="1", REQUEST_BUDGET_SECONDS="10")


@pytest.mark.parametrize("row", DELETE_ROWS, ids=lambda r: r.name)
def test_delete_stage_fault(faulty: None, post: Callable[..., Any], sim: SimulatorControl, row: Row) -> None:
    sim.inject({"stage": "delete", **row.fault})
    started = time.monotonic()
    problem = assert_problem(post({"dnids": "1"}), row.status, row.code)
    elapsed = time.monotonic() - started
    assert problem["retryable"] is row.retryable
    assert len(sim.calls("delete")) == row.attempts
    assert elapsed < 10  # REQUEST_BUDGET_SECONDS
    sim.clear_faults()


@pytest.mark.parametrize("row", TOKEN_ROWS, ids=lambda r: r.name)
def test_token_stage_fault(faulty: None, post: Callable[..., Any], sim: SimulatorControl, row: Row) -> None:
    sim.inject({"stage": "token", **row.fault})
    started = time.monotonic()
    problem = assert_problem(post({"dnids": "1"}), row.status, row.code)
    assert problem["retryable"] is row.retryable
    assert len(sim.calls("token")) == row.attempts
    assert sim.calls("delete") == []
    assert time.monotonic() - started < 10


def test_non_zero_return_code_is_a_result_not_a_problem(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "returnCode": "5", "description": "system busy"})
    response = post({"dnids": "1"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["batches"][0] == {"dnids": ["1"], "returnCode": "5", "description": "system busy", "status": "failed"}


def test_short_retry_after_is_honoured(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "status": 429, "headers": {"Retry-After": "1"}})
    started = time.monotonic()
    assert post({"dnids": "1"}).status_code == 200
    assert time.monotonic() - started >= 1.0
    assert [c["status"] for c in sim.calls("delete")] == [429, 200]


def test_unavailable_answers_carry_retry_after(faulty: None, post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "status": 429, "headers": {"Retry-After": "120"}})
    response = post({"dnids": "1"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "120"


def test_one_transient_failure_is_absorbed(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "status": 503, "times": 1})
    assert post({"dnids": "1"}).status_code == 200
    assert [c["status"] for c in sim.calls("delete")] == [503, 200]


def test_connection_refused_is_503(post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl) -> None:
    env(CEC_BASE_URL="http://127.0.0.1:9", CEC_TOKEN_URL=sim.base_url + "/apigovernance/api/oauth/tokenByAkSk")
    problem = assert_problem(post({"dnids": "1"}), 503, "upstream_unavailable")
    assert "connection refused" in problem["detail"]
    assert "after 3 attempts" in problem["detail"]


def test_budget_bounds_a_slow_upstream(
    post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CEC_BATCH_SIZE="1", CEC_TIMEOUT_SECONDS="1", REQUEST_BUDGET_SECONDS="2")
    sim.configure(latency=0.7)
    started = time.monotonic()
    response = post({"dnids": "1,2,3,4,5"})
    elapsed = time.monotonic() - started
    # Token and first batch fit in the budget; the second times out and is reported
    # on its batch, the rest are not sent.
    assert response.status_code == 207
    statuses = [b["status"] for b in response.get_json()["batches"]]
    assert statuses == ["deleted", "error", "not_sent", "not_sent", "not_sent"]
    assert elapsed < 3
