"""Plan tokens, caller policies, protected hotlines and the audit trail, over real HTTP:
the functions-framework server process (gunicorn) against the simulator on loopback.

One server serves the whole module (starting it costs about a second); every test
resets the simulator and reads the simulator's own call record to see what was sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from function.callers.plans import PlanSigner
from function.cec.lookup import RouteRecord
from tests.conftest import ROOT, server_env

SIGNING_KEY = "plan-signing-key-0123456789abcdef-current"
OLD_KEY = "plan-signing-key-0123456789abcdef-retired"
KEYS = {"ops": "ops-key-0123456789", "other": "other-key-0123456789", "hotline88": "h88-key-0123456789"}
POLICIES = {"api_key:hotline88": {"accessCodes": ["88*"]}, "*": {}}
PROTECTED = "4008000001"  # dnids 10..19 of the seeded routes


def scope(name: str) -> str:
    return f"api_key:{name}"


@pytest.fixture(scope="module")
def server(sim_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=",".join(f"{name}={key}" for name, key in KEYS.items()),
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
        PLAN_SIGNING_KEYS=f"{SIGNING_KEY},{OLD_KEY}",
        CALLER_POLICIES=json.dumps(POLICIES),
        PROTECTED_ACCESS_CODES=PROTECTED,
        IDEMPOTENCY_TTL_SECONDS="0",
    )
    with FunctionServer(env, tmp_path_factory.mktemp("safeguards") / "server.log") as running:
        yield running


def call(server: FunctionServer, body: dict[str, Any], caller: str = "ops") -> requests.Response:
    return requests.post(server.url, json=body, headers={"X-API-Key": KEYS[caller]}, timeout=30)


def dnids_of(sim: SimulatorControl, access_code: str) -> list[int]:
    return [r["dnid"] for r in sim.routes() if r["accessCode"] == access_code]


def deletes(sim: SimulatorControl) -> list[str]:
    return [c["body"]["dnids"] for c in sim.calls("delete")]


def record(route: dict[str, Any]) -> RouteRecord:
    return RouteRecord(
        route["id"], str(route["dnid"]), route["accessCode"], route["extCode"], route["devicetype"],
        route["deviceId"], route["deviceDesc"], None, route["editable"],
    )  # fmt: skip


def test_plan_applied_after_a_dnid_was_reused_deletes_the_rest_and_reports_it_changed(
    server: FunctionServer, sim: SimulatorControl
) -> None:
    preview = call(server, {"routes": [{"accessCode": "9911411"}], "dryRun": True, "planTtlSeconds": 600})
    assert preview.status_code == 200
    plan = preview.json()
    assert plan["dnids"] == ["1", "2", "3"]
    assert plan["planId"].startswith("plan-") and plan["planExpiresAt"].endswith("Z")
    assert len(plan["planToken"]) < 1000

    # Meanwhile someone deletes dnid 2 and the tenant hands dnid 2 to a new route.
    assert call(server, {"dnids": "2"}).json()["status"] == "deleted"
    sim.configure(reuse_dnids=True)
    created = sim.create_route(DEFAULT_APP_KEY, DEFAULT_APP_SECRET, accessCode="4009990000", devicetype=1, deviceId=5)
    assert created["returnCode"] == "0"
    assert [r["accessCode"] for r in sim.routes() if r["dnid"] == 2] == ["4009990000"]
    sim.clear_calls()

    applied = call(server, {"planToken": plan["planToken"]})
    assert applied.status_code == 207
    body = applied.json()
    assert body["planId"] == plan["planId"]
    outcomes = {r["dnid"]: r["outcome"] for r in body["results"]}
    assert outcomes == {"1": "deleted", "2": "changed", "3": "deleted"}
    changed = next(r for r in body["results"] if r["dnid"] == "2")
    assert changed["id"] == "1127986019188238339" and "another route" in changed["description"]
    assert deletes(sim) == ["1,3"]
    assert [r["accessCode"] for r in sim.routes() if r["dnid"] == 2] == ["4009990000"]


def test_a_route_gone_since_the_plan_is_already_absent(server: FunctionServer, sim: SimulatorControl) -> None:
    token = call(server, {"dnids": "1,3", "dryRun": True}).json()["planToken"]
    call(server, {"dnids": "3"})
    sim.clear_calls()
    body = call(server, {"planToken": token}).json()
    assert {r["dnid"]: r["outcome"] for r in body["results"]} == {"1": "deleted", "3": "already_absent"}
    assert body["status"] == "deleted"
    assert deletes(sim) == ["1"]


def _signed(key: str, who: str, routes: list[RouteRecord], *, at: float | None = None, ttl: int = 900) -> str:
    signer = PlanSigner([key.encode()], clock=(lambda: at) if at is not None else time.time)
    return signer.issue(scope(who), routes, ttl)[0]


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_every_token_failure_is_refused_with_nothing_sent(server: FunctionServer, sim: SimulatorControl) -> None:
    good = call(server, {"dnids": "1,2", "dryRun": True}).json()["planToken"]
    routes = [record(r) for r in sim.routes() if r["dnid"] in (1, 2)]
    version, kid, payload, mac = good.split(".")
    cases = {
        "payload altered": (f"{version}.{kid}.{_flip(payload, 10)}.{mac}", 400, "plan_invalid"),
        "signature altered": (f"{version}.{kid}.{payload}.{_flip(mac, 3)}", 400, "plan_invalid"),
        "truncated": (good[:-5], 400, "plan_invalid"),
        "not a token": ("hello", 400, "plan_invalid"),
        "wrong version": ("p9" + good[2:], 400, "plan_invalid"),
        "unknown key": (_signed("some-other-deployment-key-0123456789", "ops", routes), 400, "plan_invalid"),
        "expired": (_signed(SIGNING_KEY, "ops", routes, at=time.time() - 3600, ttl=900), 422, "plan_expired"),
        "another caller": (good, 403, "plan_wrong_caller"),
    }
    sim.clear_calls()
    for name, (token, status, code) in cases.items():
        response = call(server, {"planToken": token}, caller="other" if name == "another caller" else "ops")
        assert (response.status_code, response.json().get("code")) == (status, code), name
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["retryable"] is False
    assert sim.calls() == []  # not a lookup, not even a token: verification is local
    assert {1, 2} <= {r["dnid"] for r in sim.routes()}

    # A token signed with the retired (second) key still verifies: rotation.
    rotated = _signed(OLD_KEY, "ops", routes)
    assert call(server, {"planToken": rotated}).json()["status"] == "deleted"


def test_a_caller_limited_to_88_cannot_delete_9911411_by_any_selector(
    server: FunctionServer, sim: SimulatorControl
) -> None:
    sim.add_routes(3, 500, access_code="8801")
    target = next(r for r in sim.routes() if r["dnid"] == 1)
    assert target["accessCode"] == "9911411"
    # A plan for this caller that names 9911411 (say, issued before the policy was tightened).
    forged = _signed(SIGNING_KEY, "hotline88", [record(target)])
    selectors = [
        {"dnids": "1"},
        {"dnids": [500, 1]},
        {"ids": [target["id"]]},
        {"routes": [{"accessCode": "9911411"}]},
        {"routes": [{"accessCode": "9911411", "extCode": ""}], "dryRun": True},
        {"planToken": forged},
    ]
    sim.clear_calls()
    for body in selectors:
        response = call(server, body, caller="hotline88")
        assert response.status_code == 403, body
        problem = response.json()
        assert problem["code"] == "forbidden"
        assert "9911411" in problem["detail"] and "Nothing was deleted" in problem["detail"]
    assert deletes(sim) == []
    assert 1 in {r["dnid"] for r in sim.routes()}

    own = call(server, {"routes": [{"accessCode": "8801"}]}, caller="hotline88")
    assert own.status_code == 200 and own.json()["status"] == "deleted"
    assert deletes(sim) == ["500,501,502"]


def test_a_protected_hotline_survives_every_selector(server: FunctionServer, sim: SimulatorControl) -> None:
    protected = dnids_of(sim, PROTECTED)
    assert protected == list(range(10, 20))
    first = next(r for r in sim.routes() if r["dnid"] == 10)
    preview = call(server, {"dnids": [10, 21], "dryRun": True}).json()
    assert preview["dnids"] == ["21"]
    assert [(p["dnid"], p["deletable"]) for p in preview["plan"]] == [("10", False), ("21", True)]
    forged = _signed(SIGNING_KEY, "ops", [record(first)])
    selectors = [
        {"dnids": "10,11"},
        {"ids": [first["id"]]},
        {"routes": [{"accessCode": PROTECTED}]},
        {"routes": [{"accessCode": PROTECTED, "extCode": ""}]},
        {"planToken": forged},
    ]
    sim.clear_calls()
    for body in selectors:
        response = call(server, body)
        assert response.status_code == 422, (body, response.text)
        results = response.json()["results"]
        assert results and {r["outcome"] for r in results} == {"protected"}, body
    for sent in deletes(sim):
        assert not set(sent.split(",")) & {str(d) for d in protected}
    assert dnids_of(sim, PROTECTED) == protected


def _audit_lines(server: FunctionServer, request_id: str) -> list[str]:
    for _ in range(50):
        lines = [
            line
            for line in server.log_path.read_text().splitlines()
            if '"called routes deleted"' in line and request_id in line
        ]
        if lines:
            return lines
        time.sleep(0.1)
    return []


def test_the_audit_entry_of_a_deletion_brings_the_routes_back(
    server: FunctionServer, sim: SimulatorControl, tmp_path: Path
) -> None:
    before = {(r["accessCode"], r["extCode"]): r for r in sim.routes() if r["accessCode"] == "9911411"}
    response = requests.post(
        server.url,
        json={"routes": [{"accessCode": "9911411"}]},
        headers={"X-API-Key": KEYS["ops"], "X-Request-Id": "audit-restore-1"},
        timeout=30,
    )
    assert response.json()["status"] == "deleted"
    lines = _audit_lines(server, "audit-restore-1")
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["severity"] == "NOTICE"
    assert entry["logging.googleapis.com/labels"] == {"audit": "cec-called-routes"}
    audit = entry["audit"]
    assert (audit["principal"], audit["requestId"], audit["recordsKnown"]) == ("api_key:ops", "audit-restore-1", "full")
    assert {(r["accessCode"], r["extCode"]) for r in audit["routes"]} == set(before)
    assert all(r["deviceDesc"] == "defaultVideoSkill" for r in audit["routes"])
    assert not {k for k in before if k[0] == "9911411"} & {(r["accessCode"], r["extCode"]) for r in sim.routes()}

    # As `gcloud logging read --format=json` gives it: a list of entries with jsonPayload.
    exported = tmp_path / "audit.json"
    exported.write_text(json.dumps([{"jsonPayload": entry, "severity": "NOTICE", "labels": entry[
        "logging.googleapis.com/labels"]}]))  # fmt: skip
    env = server_env(CEC_BASE_URL=sim.base_url, CEC_APP_KEY=DEFAULT_APP_KEY, CEC_APP_SECRET=DEFAULT_APP_SECRET)
    script = [sys.executable, str(ROOT / "scripts" / "restore_routes.py"), str(exported), "--json"]
    shown = subprocess.run(script, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert {r["status"] for r in json.loads(shown.stdout)["routes"]} == {"would_create"}
    assert sim.calls("create") == []

    applied = subprocess.run([*script, "--apply"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)["routes"]
    assert {r["status"] for r in report} == {"restored"}
    after = {(r["accessCode"], r["extCode"]): r for r in sim.routes() if r["accessCode"] == "9911411"}
    assert set(after) == set(before)
    for codes, old in before.items():
        new = after[codes]
        assert (new["devicetype"], new["deviceId"]) == (old["devicetype"], old["deviceId"])
        assert new["dnid"] != old["dnid"] and new["id"] != old["id"]
        (restored,) = [r for r in report if (r["accessCode"], r["extCode"]) == codes]
        assert restored["new"] == {"dnid": str(new["dnid"]), "id": new["id"]}
    assert len(sim.calls("create")) == 3

    # Run again: the routes exist, nothing is created twice.
    again = subprocess.run([*script, "--apply"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert {r["status"] for r in json.loads(again.stdout)["routes"]} == {"exists"}
    assert len(sim.calls("create")) == 3


def test_without_signing_keys_a_plan_token_is_503_with_nothing_sent(
    sim_server: Any, sim: SimulatorControl, tmp_path: Path
) -> None:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=f"ops={KEYS['ops']}",
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
    )
    token = _signed(SIGNING_KEY, "ops", [record(r) for r in sim.routes() if r["dnid"] == 1])
    with FunctionServer(env, tmp_path / "server.log") as keyless:
        preview = call(keyless, {"dnids": "1", "dryRun": True})
        assert preview.status_code == 200 and "planToken" not in preview.json()
        sim.clear_calls()
        response = call(keyless, {"planToken": token})
    assert response.status_code == 503 and response.json()["code"] == "not_configured"
    assert "PLAN_SIGNING_KEYS" in response.json()["detail"]
    assert sim.calls() == []
