"""The fault matrix: every stage (secret read, token, lookup, delete) x every fault.

Generated from two tables: FAULTS says how to cause each fault, EXPECTED what the
function must answer per stage: HTTP status, ``code``, ``retryable`` and the number
of attempts that stage made, all within the request's time budget. Adding a fault is
one line in FAULTS and one per stage in EXPECTED.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple

import pytest

from cec_sim import FakeSecretManagerControl, SimulatorControl
from tests.test_requests import assert_problem

ALWAYS = 100  # times: enough to outlast every retry
DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused
BUDGET = 6.0

# How to cause each fault: a rule for the simulator (or fake Secret Manager), or None
# for "connection refused", which points the stage's URL at a dead port instead.
FAULTS: dict[str, dict[str, Any] | None] = {
    "refused": None,
    "reset": {"drop": "reset", "times": ALWAYS},
    "cut mid-answer": {"drop": "mid", "times": ALWAYS},
    "timeout": {"delay": 1.5, "times": ALWAYS},
    "400": {"status": 400, "times": ALWAYS},
    "401": {"status": 401, "times": ALWAYS},
    "403": {"status": 403, "times": ALWAYS},
    "404": {"status": 404, "times": ALWAYS},
    "429": {"status": 429, "times": ALWAYS},
    "429 Retry-After 120": {"status": 429, "headers": {"Retry-After": "120"}, "times": ALWAYS},
    "500": {"status": 500, "times": ALWAYS},
    "502": {"status": 502, "times": ALWAYS},
    "503": {"status": 503, "times": ALWAYS},
    "504": {"status": 504, "times": ALWAYS},
    "200 html": {"status": 200, "body": "html", "times": ALWAYS},
    "200 truncated": {"status": 200, "body": "truncated", "times": ALWAYS},
    "200 wrong shape": {"status": 200, "body": "wrong_shape", "times": ALWAYS},
    "returnCode 5": {"returnCode": "5", "description": "system busy", "times": ALWAYS},
}


class Expect(NamedTuple):
    status: int
    code: str
    retryable: bool
    attempts: int


UNAVAILABLE = Expect(503, "upstream_unavailable", True, 3)
TIMEOUT = Expect(504, "upstream_timeout", True, 1)
BAD = Expect(502, "upstream_bad_response", True, 1)
REJECTED = Expect(502, "upstream_rejected", False, 1)
AUTH = Expect(502, "upstream_auth_failed", False, 2)  # one renewal (token) or re-read (AK/SK)
SECRET_TRANSIENT = Expect(503, "secret_unavailable", True, 3)
SECRET_FINAL = Expect(503, "secret_unavailable", True, 1)

API_STAGE = {
    "refused": UNAVAILABLE,
    "reset": UNAVAILABLE,
    "cut mid-answer": UNAVAILABLE,
    "timeout": TIMEOUT,
    "400": REJECTED,
    "401": AUTH,
    "403": AUTH,
    "404": REJECTED,
    "429": UNAVAILABLE,
    "429 Retry-After 120": Expect(503, "upstream_unavailable", True, 1),
    "500": REJECTED,
    "502": UNAVAILABLE,
    "503": UNAVAILABLE,
    "504": UNAVAILABLE,
    "200 html": BAD,
    "200 truncated": BAD,
    "200 wrong shape": BAD,
}
EXPECTED: dict[str, dict[str, Expect | None]] = {
    "secret": {
        **dict.fromkeys(FAULTS, SECRET_TRANSIENT),
        **dict.fromkeys(["400", "401", "403", "404", "200 html", "200 truncated", "200 wrong shape"], SECRET_FINAL),
        "refused": SECRET_TRANSIENT,
        "returnCode 5": None,  # not a Secret Manager answer
    },
    # tokenByAkSk: 401, 403 and a 200 without AccessToken refuse the AK/SK (the secret is
    # read again, and the token asked for again only if it changed: here it did not);
    # 404 is the token URL; a 5xx is the service; anything else blames neither.
    "token": {
        **API_STAGE,
        **dict.fromkeys(["401", "403", "returnCode 5"], Expect(502, "upstream_auth_failed", False, 1)),
        "400": REJECTED,
        "404": Expect(502, "token_url_not_found", False, 1),
        "500": Expect(503, "upstream_unavailable", True, 1),
    },
    "query": {**API_STAGE, "returnCode 5": BAD},
    # A non-zero returnCode from deleteCalledRoute is a result (422), tested on its own.
    # A delete that went out and got no answer (a broken connection, a timeout, a gateway's
    # 502 or 504) may still be acted on after the lookup that follows: not a problem but a
    # result, its route unknown (and audited), for a retry to settle. A refused connection,
    # a 429 or a 503 was not processed: the lookup finds the route and the problem stands.
    "delete": {
        **API_STAGE,
        "returnCode 5": None,
        **{fault: Expect(207, "unknown", True, 3) for fault in ("reset", "cut mid-answer", "502", "504")},
        "timeout": Expect(207, "unknown", True, 1),
    },
}

MATRIX = [
    pytest.param(stage, fault, expect, id=f"{stage}-{fault}")
    for stage, row in EXPECTED.items()
    for fault, expect in row.items()
    if expect is not None
]


@pytest.fixture
def faulty(env: Callable[..., None]) -> Callable[..., None]:
    def apply(**overrides: str | None) -> None:
        env(
            CEC_TIMEOUT_SECONDS="1",
            SECRET_TIMEOUT_SECONDS="1",
            REQUEST_BUDGET_SECONDS=str(BUDGET),
            **overrides,
        )

    apply()
    return apply


def _cause(
    stage: str, fault: str, *, sim: SimulatorControl, secrets: FakeSecretManagerControl, faulty: Callable[..., None]
) -> None:
    rule = FAULTS[fault]
    if rule is None:
        token_url = sim.base_url + "/apigovernance/api/oauth/tokenByAkSk"
        dead_url = {
            "secret": {"SECRET_MANAGER_ENDPOINT": DEAD},
            "token": {"CEC_TOKEN_URL": DEAD + "/apigovernance/api/oauth/tokenByAkSk"},
        }.get(stage, {"CEC_BASE_URL": DEAD, "CEC_TOKEN_URL": token_url})
        faulty(**dead_url)
    elif stage == "secret":
        secrets.inject(rule)
    else:
        sim.inject({"stage": stage, **rule})


def _attempts(stage: str, fault: str, sim: SimulatorControl, secrets: FakeSecretManagerControl) -> int | None:
    if FAULTS[fault] is None:
        return None  # refused connections never reach a server to be counted
    if stage == "secret":
        return len(secrets.calls())
    return len(sim.calls(stage))


@pytest.mark.parametrize(("stage", "fault", "expect"), MATRIX)
def test_fault_matrix(
    faulty: Callable[..., None],
    post: Callable[..., Any],
    sim: SimulatorControl,
    secrets: FakeSecretManagerControl,
    stage: str,
    fault: str,
    expect: Expect,
) -> None:
    _cause(stage, fault, sim=sim, secrets=secrets, faulty=faulty)
    # The lookup stage is reached first by a dry run; the others by a plain delete.
    body = {"routes": [{"accessCode": "9911411"}], "dryRun": True} if stage == "query" else {"dnids": "1"}
    started = time.monotonic()
    response = post(body)
    elapsed = time.monotonic() - started
    if expect.code == "unknown":
        assert response.status_code == expect.status, response.get_data(as_text=True)
        (result,) = response.get_json()["results"]
        assert result["outcome"] == "unknown" and "no answer" in result["description"]
        assert len(sim.calls("delete")) == expect.attempts
        return
    problem = assert_problem(response, expect.status, expect.code)
    assert problem["retryable"] is expect.retryable
    attempts = _attempts(stage, fault, sim, secrets)
    if attempts is not None:
        assert attempts == expect.attempts
    if expect.retryable and expect.status == 503:
        assert "Retry-After" in response.headers
    assert elapsed < BUDGET + 0.5
    if stage == "query":
        assert sim.calls("delete") == []  # a failed lookup never leads to a delete


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


def test_unavailable_answers_carry_retry_after(
    faulty: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    sim.inject({"stage": "delete", "status": 429, "headers": {"Retry-After": "120"}})
    response = post({"dnids": "1"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "120"


def test_one_transient_failure_is_absorbed(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "status": 503, "times": 1})
    assert post({"dnids": "1"}).status_code == 200
    assert [c["status"] for c in sim.calls("delete")] == [503, 200]


def test_budget_bounds_a_slow_upstream(
    post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CEC_BATCH_SIZE="1", CEC_TIMEOUT_SECONDS="1", REQUEST_BUDGET_SECONDS="2", CEC_LOOKUP_BEFORE_DELETE="false")
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


def test_cookies_an_upstream_sets_are_never_kept_or_sent_back(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    # Gateways and WAFs in front of an API set cookies; a pooled session would keep each
    # one (a jar growing with what the upstream sends) and send it to every later call.
    sim.inject(
        *(
            {"stage": stage, "afterAction": True, "headers": {"Set-Cookie": f"WAFSESID{n}=v{n}; Path=/"}}
            for n, stage in enumerate(("token", "delete", "delete"))
        )
    )
    for dnids in ("1", "2", "3"):
        assert post({"dnids": dnids}).status_code == 200
    assert len(sim.calls()) == 4 and [c["cookie"] for c in sim.calls()] == [None] * 4


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST  # noqa: N815 - http.server's name

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_is_never_followed_to_another_host(
    post: Callable[..., Any], sim: SimulatorControl, status: int
) -> None:
    # requests would follow it, dropping Authorization but sending X-APP-Key (the AK)
    # to wherever the Location points.
    _Recorder.seen = []
    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    try:
        location = f"http://localhost:{elsewhere.server_port}/collect"
        sim.inject({"stage": "delete", "status": status, "headers": {"Location": location}})
        problem = assert_problem(post({"dnids": "1"}), 502, "upstream_rejected")
        assert f"HTTP {status}" in problem["detail"]
    finally:
        elsewhere.shutdown()
        elsewhere.server_close()
    assert _Recorder.seen == []
    assert sim.deleted() == []  # the injected answer replaced the real operation
