"""docs/n8n/preview-approve-apply.json against the real function over HTTP.

The template's own expressions build the requests (bodies, Idempotency-Key), the real
server (functions-framework, with plan-signing keys, on the CEC simulator) answers, and
the template's branch and report expressions, evaluated by node, route those answers as
n8n's HTTP Request node hands them on with the full response (statusCode, headers,
body). n8n itself is not run (see test_n8n_preview_approve_apply.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from function.callers.plans import PlanSigner
from function.cec.lookup import RouteRecord
from tests.conftest import server_env
from tests.contract.test_n8n_preview_approve_apply import APPLY, PREVIEW, _evaluate, _named

SIGNING_KEY = "n8n-template-plan-signing-key-0123456789"
KEYS = {"n8n": "n8n-key-0123456789abcdef", "other": "other-key-0123456789abcdef"}


@pytest.fixture(scope="module")
def server(sim_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=",".join(f"{name}={key}" for name, key in KEYS.items()),
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
        PLAN_SIGNING_KEYS=SIGNING_KEY,
    )
    with FunctionServer(env, tmp_path_factory.mktemp("n8n-plan") / "server.log") as running:
        yield running


def _send(server: FunctionServer, body: str, key: str | None = None, caller: str = "n8n") -> dict[str, Any]:
    """POST as the HTTP Request node does (Header Auth credential), answer as its full response."""
    headers = {"X-API-Key": KEYS[caller], "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = requests.post(server.url, data=body, headers=headers, timeout=30)
    return {
        "statusCode": response.status_code,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "body": response.json(),
    }


def _route_on(switch: str, answer: dict[str, Any], run: int = 0) -> int:
    (output,) = _evaluate(_named(switch)["parameters"]["output"], [{"json": answer, "runIndex": run}])
    assert isinstance(output, int)
    return output


def _preview(server: FunctionServer) -> dict[str, Any]:
    what = json.loads(_named("What to preview")["parameters"]["jsonOutput"])
    what["routes"] = [{"accessCode": "9911411"}]  # a hotline the simulator seeds (dnids 1, 2, 3)
    (body,) = _evaluate(_named(PREVIEW)["parameters"]["jsonBody"], [{"json": {}, "nodes": {"What to preview": what}}])
    return _send(server, body)


def _apply_request(preview: dict[str, Any]) -> tuple[str, str]:
    apply = _named(APPLY)["parameters"]
    case = [{"json": {}, "nodes": {PREVIEW: preview}}]
    (body,) = _evaluate(apply["jsonBody"], case)
    (key,) = _evaluate(apply["headerParameters"]["parameters"][0]["value"], case)
    return body, key


def test_preview_approve_apply_with_a_reused_dnid(server: FunctionServer, sim: SimulatorControl) -> None:
    preview = _preview(server)
    assert preview["statusCode"] == 200 and _route_on("Branch on the preview", preview) == 0
    plan = preview["body"]
    assert plan["dnids"] == ["1", "2", "3"]
    slack = _named("Ask for approval in Slack")["parameters"]
    (message,) = _evaluate(slack["message"], [{"json": preview}])
    assert message.startswith(f"Delete 3 called route(s)? Plan {plan['planId']}, valid until {plan['planExpiresAt']}")
    assert [line.split(":")[0] for line in message.split("\n")[1:4]] == ["- dnid 1", "- dnid 2", "- dnid 3"]
    (until,) = _evaluate(slack["options"]["limitWaitTime"]["values"]["maxDateAndTime"], [{"json": preview}])
    expires = datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp()
    assert 3500 < expires - time.time() <= 3600  # planTtlSeconds 3600 of What to preview

    # While the approver reads Slack, dnid 2 is deleted and handed to another route.
    assert _send(server, json.dumps({"dnids": "2"}))["body"]["status"] == "deleted"
    sim.configure(reuse_dnids=True)
    created = sim.create_route(DEFAULT_APP_KEY, DEFAULT_APP_SECRET, accessCode="4009990000", devicetype=1, deviceId=5)
    assert created["returnCode"] == "0"
    sim.clear_calls()

    body, key = _apply_request(preview)
    applied = _send(server, body, key)
    assert applied["statusCode"] == 207 and _route_on("Branch on the apply", applied) == 1
    assert [c["body"]["dnids"] for c in sim.calls("delete")] == ["1,3"]
    report_expression = _named("Report routes not deleted (changed, protected, failed)")["parameters"]["jsonOutput"]
    (report,) = _evaluate(report_expression, [{"json": applied}])
    report = json.loads(report)
    assert (report["planId"], report["status"], report["deleted"]) == (plan["planId"], "partial", ["1", "3"])
    (changed,) = report["notDeleted"]
    assert (changed["dnid"], changed["outcome"]) == ("2", "changed") and "another route" in changed["description"]
    assert [r["accessCode"] for r in sim.routes() if r["dnid"] == 2] == ["4009990000"]  # the new route survives

    # The retry loop sends the same key again: nothing more is deleted, and it routes the same way.
    sim.clear_calls()
    again = _send(server, body, key)
    assert _route_on("Branch on the apply", again) == 1 and sim.calls("delete") == []


def _record(route: dict[str, Any]) -> RouteRecord:
    return RouteRecord(
        route["id"], str(route["dnid"]), route["accessCode"], route["extCode"], route["devicetype"],
        route["deviceId"], route["deviceDesc"], None, route["editable"],
    )  # fmt: skip


def test_plan_problems_route_to_preview_again_or_fail(server: FunctionServer, sim: SimulatorControl) -> None:
    preview = _preview(server)
    body, key = _apply_request(preview)
    routes = [_record(r) for r in sim.routes() if r["accessCode"] == "9911411"]
    expired = PlanSigner([SIGNING_KEY.encode()], clock=lambda: time.time() - 7200).issue("api_key:n8n", routes, 900)[0]
    token = json.loads(body)["planToken"]
    sim.clear_calls()
    cases = {
        "plan_expired": (_send(server, json.dumps({"planToken": expired}), key + "-expired"), 422, 2),
        "plan_wrong_caller": (_send(server, body, key + "-other", caller="other"), 403, 4),
        "plan_invalid": (_send(server, json.dumps({"planToken": token[:-4]}), key + "-cut"), 400, 4),
    }
    for code, (answer, status, output) in cases.items():
        assert (answer["statusCode"], answer["body"]["code"], answer["body"]["retryable"]) == (status, code, False)
        assert _route_on("Branch on the apply", answer) == output, code
    (message,) = _evaluate(
        _named("Fail with our code")["parameters"]["errorMessage"], [{"json": cases["plan_wrong_caller"][0]}]
    )
    assert (
        message.startswith("HTTP 403 plan_wrong_caller: ")
        and cases["plan_wrong_caller"][0]["body"]["requestId"] in message
    )
    assert sim.calls() == []  # refused before anything was sent, not even a lookup
    assert {1, 2, 3} <= {r["dnid"] for r in sim.routes()}
