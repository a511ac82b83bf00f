"""POST /preview and POST /apply, over HTTP to the real server: POST /'s validation and
answers, plus one rule each (/preview only previews, /apply takes only a planToken)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY, server_env


@pytest.fixture(scope="module")
def server(sim_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
        PLAN_SIGNING_KEYS="alias-plan-signing-key-0123456789abcdef",
    )
    with FunctionServer(env, tmp_path_factory.mktemp("aliases") / "server.log") as running:
        yield running


def call(server: FunctionServer, path: str, body: Any, key: str | None = API_KEY) -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    return requests.post(server.url + path, json=body, headers=headers, timeout=30)


def problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def test_preview_then_apply_deletes_what_the_preview_showed(server: FunctionServer, sim: SimulatorControl) -> None:
    preview = call(server, "/preview", {"routes": [{"accessCode": "9911411"}]})
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert plan["status"] == "planned" and plan["dryRun"] is True
    assert plan["planToken"] and plan["planId"] and plan["planExpiresAt"]
    assert sim.deleted() == []

    applied = call(server, "/apply", {"planToken": plan["planToken"]})
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "deleted"
    assert sorted(sim.deleted()) == sorted(int(route["dnid"]) for route in plan["plan"] if route["deletable"])


def test_preview_accepts_dry_run_true_and_refuses_false(server: FunctionServer, sim: SimulatorControl) -> None:
    assert call(server, "/preview", {"dnids": "1", "dryRun": True}).json()["status"] == "planned"
    refused = problem(call(server, "/preview", {"dnids": "1", "dryRun": False}), 400, "invalid_request")
    assert refused["errors"] == [{"pointer": "/dryRun", "detail": refused["errors"][0]["detail"]}]
    assert "only previews" in refused["detail"]
    assert sim.calls("delete") == []


def test_apply_refuses_every_selector_but_a_plan_token(server: FunctionServer, sim: SimulatorControl) -> None:
    for body in ({"dnids": "1,2"}, {"ids": ["1127983948544239618"]}, {"routes": [{"accessCode": "9911411"}]}):
        refused = problem(call(server, "/apply", body), 400, "invalid_request")
        assert refused["errors"][0]["pointer"] == "/planToken"
    assert sim.calls() == []


def test_the_aliases_share_post_roots_validation_auth_and_methods(
    server: FunctionServer, sim: SimulatorControl
) -> None:
    for path in ("/preview", "/apply"):
        problem(call(server, path, {}), 400, "invalid_request")
        problem(call(server, path, {"dnids": "1", "planToken": "p1.x"}), 400, "invalid_request")
        problem(call(server, path, {"dnids": "1"}, key=None), 401, "unauthenticated")
        problem(requests.get(server.url + path, timeout=10), 405, "method_not_allowed")
        bad = requests.post(server.url + path, data=b"{", headers={"X-API-Key": API_KEY}, timeout=10)
        problem(bad, 415, "unsupported_media_type")
    problem(call(server, "/apply", {"planToken": "p1.not-a-token"}), 400, "plan_invalid")
    problem(call(server, "/preview", {"planToken": "p1.not-a-token"}), 400, "invalid_request")
    assert sim.calls("delete") == []
