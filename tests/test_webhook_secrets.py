"""Several named webhook secrets: each webhook caller is its own principal, in logs, audit and policies."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import SimulatorControl
from tests.test_auth import WEBHOOK_KEY, WEBHOOK_SECRET, send, signed_headers
from tests.test_requests import assert_problem

ZAPIER_KEY = b"zapier-zapier-zapier-zapier-0001"
MAKE_KEY = b"make-make-make-make-make-make-02"
SECRETS = (
    f"zapier=whsec_{base64.b64encode(ZAPIER_KEY).decode()},"
    f" make = whsec_{base64.b64encode(MAKE_KEY).decode()}\n{WEBHOOK_SECRET}"
)


BODY_1 = json.dumps({"dnids": [1]}).encode()


def body(dnid: int) -> bytes:
    return json.dumps({"dnids": [dnid]}).encode()


def test_each_named_secret_names_its_caller_and_an_unnamed_one_stays_webhook(
    client: FlaskClient, env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=SECRETS, API_KEYS=None)
    capsys.readouterr()
    for dnid, key in ((1, ZAPIER_KEY), (2, MAKE_KEY), (3, WEBHOOK_KEY)):
        assert send(client, signed_headers(body(dnid), key=key), body(dnid)).status_code == 200
    output = capsys.readouterr().out
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["audit"]["principal"] for line in lines if "audit" in line] == [
        "webhook:zapier",
        "webhook:make",
        "webhook",
    ]
    assert [line["caller"] for line in lines if line.get("message", "").startswith("POST / ")] == [
        "webhook:zapier",
        "webhook:make",
        "webhook",
    ]
    for key in (ZAPIER_KEY, MAKE_KEY, WEBHOOK_KEY):
        assert base64.b64encode(key).decode() not in output


def test_a_signature_from_no_listed_secret_is_401(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=SECRETS, API_KEYS=None)
    headers = signed_headers(body(1), key=b"someone-else-someone-else-000003")
    problem = assert_problem(send(client, headers, body(1)), 401, "unauthenticated")
    assert "no webhook-signature matches" in problem["detail"]
    assert sim.calls() == []


def test_policies_tell_webhook_callers_apart(client: FlaskClient, env: Callable[..., None]) -> None:
    policies = {"webhook:make": {"dryRunOnly": True}, "*": {}}
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=SECRETS, API_KEYS=None, CALLER_POLICIES=json.dumps(policies))
    assert_problem(send(client, signed_headers(body(1), key=MAKE_KEY), body(1)), 403, "forbidden")
    assert send(client, signed_headers(body(1), key=ZAPIER_KEY), body(1)).status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        f"zapier=whsec_{base64.b64encode(ZAPIER_KEY).decode()}, make=not-a-secret",
        f"{WEBHOOK_SECRET}, whsec_@@",
        " , ",
    ],
)
def test_one_unusable_entry_is_503_not_configured(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl, value: str
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=value, API_KEYS=None)
    problem: Any = assert_problem(send(client, signed_headers(BODY_1, key=ZAPIER_KEY), BODY_1), 503, "not_configured")
    assert "WEBHOOK_SECRET" in problem["detail"]
    assert base64.b64encode(ZAPIER_KEY).decode() not in problem["detail"]
    assert sim.calls() == []
