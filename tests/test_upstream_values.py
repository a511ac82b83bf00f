"""What the upstream sends is bounded and masked (issue 9, items 2 and 11).

Numbers (Retry-After as seconds or a date, Expires, CreateTime, total, dnids) that
overflow or make no sense never crash a request and never reach a caller unbounded;
upstream text that quotes a secret (the AK/SK, the token, an API key, the webhook
secret) is masked in the answer and in every log line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, TOKEN_PATH
from function.budget import Deadline
from function.cec.bounded import MAX_RETRY_AFTER_SECONDS, bounded_float, bounded_int, retry_after_seconds
from function.cec.credentials import CecCredentials
from function.cec.tokens import TokenProvider
from function.cec.transport import Transport
from tests.conftest import API_KEY
from tests.test_auth import WEBHOOK_SECRET
from tests.test_requests import assert_problem

ALWAYS = 100

ABSURD_RETRY_AFTER = [
    "9" * 400,
    "9" * 19,
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 +9999",
    "x" * 5000,
    "-5",
    "1e400",
]


@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER)
def test_an_absurd_retry_after_is_a_json_503_with_a_bounded_retry_after(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl, value: str
) -> None:
    env(CEC_MAX_RETRIES="0")
    sim.inject({"stage": "delete", "status": 503, "headers": {"Retry-After": value}, "times": ALWAYS})
    response = post({"dnids": "1"})
    problem = assert_problem(response, 503, "upstream_unavailable")
    assert problem["retryable"] is True
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= MAX_RETRY_AFTER_SECONDS


def test_a_long_retry_after_is_passed_on_bounded(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    sim.inject({"stage": "token", "status": 429, "headers": {"Retry-After": "9" * 400}, "times": ALWAYS})
    response = post({"dnids": "1"})
    assert_problem(response, 503, "upstream_unavailable")
    assert response.headers["Retry-After"] == str(int(MAX_RETRY_AFTER_SECONDS))
    assert len(sim.calls("token")) == 1  # not waited out, not retried


@pytest.mark.parametrize(
    "total",
    ["9" * 5000, "9" * 30, -1, 1e308, "1e400", None, "12abc", True],
)
def test_an_absurd_total_does_not_crash_a_lookup(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl, total: Any
) -> None:
    record = {"id": "r1", "dnid": "12", "accessCode": "9911411", "extCode": "", "editable": "1"}
    page = {"returnCode": "0", "description": "ok", "data": {"total": total, "calledRouteList": [record]}}
    sim.inject({"stage": "query", "json": page, "times": ALWAYS})
    # Without a readable total nothing can be counted, not even one short page: the server
    # may page by fewer records than asked. A JSON problem, nothing sent.
    problem = assert_problem(post({"routes": [{"accessCode": "9911411"}]}), 502, "upstream_bad_response")
    assert "no readable total" in problem["detail"]
    assert sim.calls("delete") == []


def test_a_record_without_a_usable_dnid_makes_the_lookup_unprovable(
    post: Callable[..., Any], sim: SimulatorControl
) -> None:
    # It could be any route: the selection cannot be told, and nothing is sent.
    record = {"id": "r1", "dnid": "9" * 5000, "accessCode": "9911411", "extCode": "", "editable": "1"}
    page = {"returnCode": "0", "description": "ok", "data": {"total": 1, "calledRouteList": [record]}}
    sim.inject({"stage": "query", "json": page, "times": ALWAYS})
    problem = assert_problem(post({"routes": [{"accessCode": "9911411"}]}), 502, "upstream_bad_response")
    assert "without a usable dnid" in problem["detail"]
    assert sim.calls("delete") == []


@pytest.mark.parametrize(
    "fields",
    [
        {"Expires": "9" * 400, "CreateTime": "9" * 5000},
        {"Expires": "Infinity", "CreateTime": "-Infinity"},  # sent as JSON Infinity, below
        {"Expires": "1e400", "CreateTime": "nan"},
        {"Expires": 10**40, "CreateTime": 10**40},
    ],
    ids=["digits", "infinity", "strings", "huge-ints"],
)
def test_an_absurd_token_lifetime_is_not_believed(sim: SimulatorControl, fields: dict[str, Any]) -> None:
    """The token is renewed after the lifetime we asked for, not kept forever."""
    now = [0.0]
    transport = Transport(timeout_seconds=2, max_retries=0)
    tokens = TokenProvider(transport=transport, url=sim.base_url + TOKEN_PATH, ttl_seconds=600, clock=lambda: now[0])
    credentials = CecCredentials(DEFAULT_APP_KEY, DEFAULT_APP_SECRET, source="test")
    rule = json.dumps({"rules": [{"stage": "token", "json": {"AccessToken": "tok-absurd-lifetime", **fields}}]})
    # Python's json reads and writes the bare Infinity that a careless upstream sends.
    rule = rule.replace('"Infinity"', "Infinity").replace('"-Infinity"', "-Infinity")
    requests.post(sim.base_url + "/_sim/faults", data=rule, timeout=5).raise_for_status()
    first = tokens.get(credentials, Deadline(5))
    assert first.value == "tok-absurd-lifetime"
    now[0] = 600.0
    second = tokens.get(credentials, Deadline(5))
    assert second.value != first.value
    assert len(sim.calls("token")) == 2
    transport.close()


def test_bounded_readers() -> None:
    assert bounded_int("9" * 5000, low=0, high=10) is None
    assert bounded_int(" 42 ", low=0, high=100) == 42
    assert bounded_int(True, low=0, high=1) is None
    assert bounded_float(float("inf"), low=0, high=1e9) is None
    assert bounded_float(10**400, low=0, high=1e9) is None
    assert bounded_float("1.5", low=0, high=2) == 1.5
    assert retry_after_seconds("9" * 400) == MAX_RETRY_AFTER_SECONDS
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("garbage") is None
    # Unicode digits are not digits here (int() would read 12); over HTTP a header is
    # latin-1, so only a caller in-process can hand them over.
    assert retry_after_seconds("\u0661\u0662") is None
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    later = retry_after_seconds(soon)
    assert later is not None and 25 <= later <= 31


def _secret_values(sim: SimulatorControl) -> list[str]:
    return [DEFAULT_APP_KEY, DEFAULT_APP_SECRET, *sim.tokens(), API_KEY]


def test_a_delete_description_quoting_secrets_is_masked_in_the_answer_and_logs(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    env()
    sim.inject(
        {
            "stage": "delete",
            "returnCode": "1",
            "description": f"refused for caller {API_KEY}",
            "echoSecrets": True,
        }
    )
    capsys.readouterr()
    response = post({"dnids": "1"})
    assert response.status_code == 422, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    logs = capsys.readouterr().out
    assert "[redacted]" in text
    assert sim.tokens()  # the token the description quoted
    for secret in _secret_values(sim):
        assert secret not in text
        assert secret not in logs


def test_a_success_description_quoting_secrets_is_masked(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    env()
    sim.inject({"stage": "delete", "echoSecrets": True, "afterAction": True})
    response = post({"dnids": "1,2"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "[redacted]" in text
    for secret in _secret_values(sim):
        assert secret not in text


def test_a_query_error_quoting_secrets_is_masked(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    env()
    sim.inject({"stage": "query", "returnCode": "7", "description": "denied", "echoSecrets": True})
    response = post({"routes": [{"accessCode": "9911411"}], "dryRun": True})
    problem = assert_problem(response, 502, "upstream_bad_response")
    assert "[redacted]" in problem["detail"]
    for secret in _secret_values(sim):
        assert secret not in json.dumps(problem)


def test_the_webhook_secret_is_masked_in_upstream_text(
    env: Callable[..., None], client: Any, sim: SimulatorControl
) -> None:
    from tests.test_auth import BODY, send, signed_headers

    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    sim.inject(
        {"stage": "delete", "returnCode": "1", "description": f"secret {WEBHOOK_SECRET} and {WEBHOOK_SECRET[6:]}"}
    )
    response = send(client, signed_headers(BODY), BODY)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert WEBHOOK_SECRET[6:] not in text
    assert "secret [redacted] and [redacted]" in text


def test_plan_signing_keys_are_masked_in_upstream_text(
    env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    signing_key, old_key = "plan-signing-key-" + "s" * 24, "old-plan-signing-key-" + "o" * 20
    env(PLAN_SIGNING_KEYS=f"{signing_key},{old_key}")
    sim.inject({"stage": "delete", "returnCode": "1", "description": f"keys {signing_key} / {old_key}"})
    response = post({"dnids": "1"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert signing_key not in text and old_key not in text
    assert "keys [redacted] / [redacted]" in text


def test_the_mask_covers_json_escaped_forms_and_keeps_a_few_generations() -> None:
    from function.redact import SecretRegistry

    registry = SecretRegistry(generations=2)
    registry.register("demo", ['se"cret\\value', "x"])  # "x" is too short to mask
    line = json.dumps({"message": 'quoted se"cret\\value here, x'})
    assert registry.mask(line) == json.dumps({"message": "quoted [redacted] here, x"})
    for generation in ("token-one-111", "token-two-222", "token-three-333"):
        registry.register("token", [generation])
    assert registry.mask("token-one-111 token-two-222 token-three-333") == "token-one-111 [redacted] [redacted]"
