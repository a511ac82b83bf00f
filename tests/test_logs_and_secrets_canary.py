"""Logs are Cloud Logging JSON; no secret ever appears in a log line or an answer.

The canary test gives every secret a recognisable value (AK, SK, the bearer token the
simulator issues, API key, webhook secret), drives the function down every path,
including every upstream fault, and searches everything it printed and answered.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import FakeSecretManagerControl, SimulatorControl
from tests.conftest import CREDENTIALS_SECRET
from tests.test_auth import signed_headers
from tests.test_upstream_faults import EXPECTED, FAULTS

CANARY_AK = "AKcanary7f3a91d2"
CANARY_SK = "SKcanary0b5e66c4"
CANARY_API_KEY = "APIKEYcanary5d21e8"
CANARY_TOKEN_PREFIX = "TOKENcanary"
CANARY_WEBHOOK_KEY = b"WHcanary-key-material-0123456789"
CANARY_WEBHOOK_SECRET = "whsec_" + base64.b64encode(CANARY_WEBHOOK_KEY).decode()
CANARIES = [
    CANARY_AK,
    CANARY_SK,
    CANARY_API_KEY,
    CANARY_TOKEN_PREFIX,
    CANARY_WEBHOOK_SECRET,
    CANARY_WEBHOOK_SECRET.removeprefix("whsec_"),
]


def test_log_lines_are_cloud_logging_json_with_trace(
    post: Callable[..., Any], env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    env(GOOGLE_CLOUD_PROJECT="my-project", CEC_LOOKUP_BEFORE_DELETE="false")
    capsys.readouterr()
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    post({"dnids": "1"}, headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    post({"dnids": "2"}, headers={"X-Cloud-Trace-Context": f"{trace.upper()}/123;o=1"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summaries = [line for line in lines if line["message"].startswith("POST / ")]
    assert len(summaries) == 2
    for line in summaries:
        assert line["severity"] == "INFO"
        assert line["logging.googleapis.com/trace"] == f"projects/my-project/traces/{trace}"
        assert line["logging.googleapis.com/trace_sampled"] is True
        assert line["httpRequest"]["status"] == 200
        assert line["outcome"] == "deleted"
        assert line["dnidCount"] == 1
        assert set(line["upstreamCalls"]) <= {"secret", "token", "delete"}
        assert "durationMs" in line and "requestId" in line
    assert summaries[0]["upstreamCalls"] == {"secret": 1, "token": 1, "delete": 1}
    assert summaries[1]["upstreamCalls"] == {"delete": 1}
    assert summaries[1]["logging.googleapis.com/spanId"] == format(123, "016x")


def test_failures_log_at_warning_and_error(
    post: Callable[..., Any], sim: SimulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    post({"dnids": ""})
    sim.inject({"stage": "delete", "status": 500})
    post({"dnids": "1"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summaries = {line["httpRequest"]["status"]: line for line in lines if "httpRequest" in line}
    assert summaries[400]["severity"] == "WARNING" and summaries[400]["code"] == "invalid_request"
    assert summaries[502]["severity"] == "ERROR" and summaries[502]["code"] == "upstream_rejected"


@pytest.fixture
def canary_env(
    env: Callable[..., None], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> Callable[..., None]:
    sim.configure(app_key=CANARY_AK, app_secret=CANARY_SK, token_prefix=CANARY_TOKEN_PREFIX)
    secrets.add_version(CREDENTIALS_SECRET, json.dumps({"app_key": CANARY_AK, "app_secret": CANARY_SK}))

    def apply(**overrides: str | None) -> None:
        env(
            CALLER_AUTH="api_key,webhook",
            API_KEYS=CANARY_API_KEY,
            WEBHOOK_SECRET=CANARY_WEBHOOK_SECRET,
            CEC_TIMEOUT_SECONDS="1",
            **overrides,
        )

    apply()
    return apply


def test_no_secret_in_any_log_or_answer(
    client: FlaskClient,
    canary_env: Callable[..., None],
    sim: SimulatorControl,
    secrets: FakeSecretManagerControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers: list[str] = []

    def call(body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        response = client.post("/", data=data, content_type="application/json", headers=headers or {})
        answers.append(json.dumps(dict(response.headers)) + response.get_data(as_text=True))

    key = {"X-API-Key": CANARY_API_KEY}
    call({"dnids": "1,2"}, key)  # success
    call({"dnids": "5,6"}, key)  # partial
    call({"dnids": "6"}, key)  # nothing deleted
    call({"dnids": "1,,x", "extra": CANARY_SK}, key)  # bad input quoting a secret-like value
    call({"dnids": "3"}, {"X-API-Key": CANARY_API_KEY + "x"})  # wrong key
    call({"dnids": "3"}, signed_headers(b'{"dnids": "3"}', key=CANARY_WEBHOOK_KEY))  # webhook ok
    call({"dnids": "4"}, {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,x"})
    canary_env(SECRET_CACHE_TTL_SECONDS="0")  # every request reads the secret: its faults count
    matrix = [(stage, fault) for stage, row in EXPECTED.items() for fault in row if FAULTS[fault] is not None]
    for stage, fault in matrix:
        rule = FAULTS[fault]
        assert rule is not None
        if stage == "secret":
            secrets.inject(rule)
        else:
            sim.inject({"stage": stage, **rule})
        body = {"routes": [{"accessCode": "9911411"}], "dryRun": True} if stage == "query" else {"dnids": "8"}
        call(body, key)
        sim.clear_faults()
        secrets.clear_faults()
    canary_env()
    sim.advance_clock(3600)  # expired token: renewal path
    call({"dnids": "9"}, key)
    sim.configure(app_secret="revoked")  # rejected AK/SK: re-read path
    call({"dnids": "10"}, key)
    sim.configure(app_secret=CANARY_SK)
    secrets.add_version(CREDENTIALS_SECRET, f"not json {CANARY_AK} {CANARY_SK}")  # misconfigured
    canary_env(SECRET_CACHE_TTL_SECONDS="0")
    call({"dnids": "11"}, key)
    secrets.inject({"status": 403})
    call({"dnids": "12"}, key)
    canary_env(CEC_BASE_URL=None)  # not configured
    call({"dnids": "13"}, key)

    output = capsys.readouterr()
    everything = output.out + output.err + "\n".join(answers)
    assert len(answers) == 7 + len(matrix) + 5
    assert any(CANARY_TOKEN_PREFIX in t for t in sim.tokens()), "the canary token was never issued"
    for canary in CANARIES:
        assert canary not in everything, f"secret {canary!r} leaked"


CANARY_PLAN_KEY = "PLANKEYcanary-0123456789abcdef-current"
CANARY_OLD_PLAN_KEY = "PLANKEYcanary-0123456789abcdef-retired"


def test_no_plan_signing_key_in_any_log_or_answer(
    client: FlaskClient,
    canary_env: Callable[..., None],
    secrets: FakeSecretManagerControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers: list[str] = []
    key = {"X-API-Key": CANARY_API_KEY}

    def call(body: Any) -> dict[str, Any]:
        response = client.post("/", data=json.dumps(body), content_type="application/json", headers=key)
        answers.append(json.dumps(dict(response.headers)) + response.get_data(as_text=True))
        result: dict[str, Any] = response.get_json()
        return result

    canary_env(PLAN_SIGNING_KEYS=f"{CANARY_PLAN_KEY},{CANARY_OLD_PLAN_KEY}", PROTECTED_ACCESS_CODES="99114111")
    token = call({"routes": [{"accessCode": "9911411"}], "dryRun": True})["planToken"]
    assert call({"planToken": token[:-2] + "xx"})["code"] == "plan_invalid"
    assert call({"planToken": token})["status"] == "deleted"
    secrets.add_version("projects/test-project/secrets/plan-keys", f"{CANARY_PLAN_KEY}\n{CANARY_OLD_PLAN_KEY}")
    canary_env(PLAN_SIGNING_KEYS_SECRET="projects/test-project/secrets/plan-keys/versions/latest")
    assert "planToken" in call({"dnids": "4", "dryRun": True})
    canary_env(PLAN_SIGNING_KEYS=CANARY_PLAN_KEY[:20])  # too short: not configured, never quoted
    assert call({"dnids": "4"})["code"] == "not_configured"

    output = capsys.readouterr()
    everything = output.out + output.err + "\n".join(answers)
    assert len(answers) == 5
    for canary in (CANARY_PLAN_KEY, CANARY_OLD_PLAN_KEY, CANARY_PLAN_KEY[:20], CANARY_API_KEY):
        assert canary not in everything, f"secret {canary!r} leaked"
