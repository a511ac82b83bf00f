"""Plan tokens, policies and audit entries: the token format and its limits, settings
and secrets, and the policy fields (in-process function, simulator over loopback)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from cec_sim import FakeSecretManagerControl, SimulatorControl
from function.callers.audit import PART_BYTES
from function.callers.plans import DEFAULT_MAX_ROUTES, PlanInvalid, PlanSigner, key_id
from function.cec.lookup import RouteRecord
from function.models import MAX_TOKEN_CHARS
from tests.conftest import API_KEY

KEY = "k" * 40
SCOPE = "api_key:key-4b3ba27e64f1"  # the fingerprint name of conftest's API_KEY


def routes(count: int, start: int = 1000) -> list[RouteRecord]:
    return [
        RouteRecord(str(1140000000000000000 + d), str(d), f"40080{d:05d}", str(d % 10), 1, d % 23, "q", 5, "0")
        for d in range(start, start + count)
    ]


def test_token_round_trip_and_size_of_the_largest_plan() -> None:
    signer = PlanSigner([KEY.encode()])
    token, plan = signer.issue(SCOPE, routes(DEFAULT_MAX_ROUTES), 900)
    assert token.startswith(f"p1.{key_id(KEY.encode())}.")
    assert len(token) < MAX_TOKEN_CHARS
    back = signer.verify(token, SCOPE)
    assert back == plan and len(back.routes) == DEFAULT_MAX_ROUTES
    assert back.expires_at - back.issued_at == 900


def test_a_payload_that_inflates_without_bound_is_refused() -> None:
    # A bomb signed with the real key (as a key holder could): inflation stops at its bound.
    signer = PlanSigner([KEY.encode()])
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" * (8 * 1024 * 1024), 9)).rstrip(b"=").decode()
    signed = f"p1.{key_id(KEY.encode())}.{bomb}"
    mac = base64.urlsafe_b64encode(signer._mac(KEY.encode(), signed)).rstrip(b"=").decode()
    with pytest.raises(PlanInvalid, match="payload cannot be read"):
        signer.verify(f"{signed}.{mac}", SCOPE)


def _dry(post: Callable[..., TestResponse], body: dict[str, Any]) -> dict[str, Any]:
    response = post({**body, "dryRun": True})
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def test_without_signing_keys_dry_runs_carry_no_token_and_tokens_are_503(
    env: Callable[..., None], post: Callable[..., TestResponse], sim: SimulatorControl
) -> None:
    plan = _dry(post, {"dnids": "1"})
    assert "planToken" not in plan and "planId" not in plan
    token = PlanSigner([KEY.encode()]).issue(SCOPE, routes(1), 900)[0]
    sim.clear_calls()
    response = post({"planToken": token})
    assert response.status_code == 503 and response.get_json()["code"] == "not_configured"
    assert sim.calls() == []


def test_signing_keys_from_secret_manager(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    secrets: FakeSecretManagerControl,
    sim: SimulatorControl,
) -> None:
    secrets.add_version("projects/test-project/secrets/plan-keys", f"{KEY}\n")
    env(PLAN_SIGNING_KEYS_SECRET="projects/test-project/secrets/plan-keys/versions/latest")
    plan = _dry(post, {"dnids": "1,2"})
    assert plan["planToken"].split(".")[1] == key_id(KEY.encode())
    assert KEY not in json.dumps(plan)
    applied = post({"planToken": plan["planToken"]}).get_json()
    assert applied["status"] == "deleted" and applied["planId"] == plan["planId"]


def test_plan_ttl_and_selector_rules(env: Callable[..., None], post: Callable[..., TestResponse]) -> None:
    env(PLAN_SIGNING_KEYS=KEY)
    plan = _dry(post, {"dnids": "1", "planTtlSeconds": 86400})
    assert plan["planExpiresAt"].endswith("Z")
    for body in (
        {"dnids": "1", "planTtlSeconds": 600},  # not a dry run
        {"dnids": "1", "dryRun": True, "planTtlSeconds": 59},
        {"dnids": "1", "dryRun": True, "planTtlSeconds": 86401},
        {"planToken": plan["planToken"], "dryRun": True},
        {"planToken": plan["planToken"], "dnids": "1"},
        {"planToken": ""},
    ):
        response = post(body)
        assert response.status_code == 400 and response.get_json()["code"] == "invalid_request", body


def test_a_plan_past_the_cap_gets_no_token_and_says_why(
    env: Callable[..., None], post: Callable[..., TestResponse]
) -> None:
    env(PLAN_SIGNING_KEYS=KEY, PLAN_MAX_ROUTES="2")
    plan = _dry(post, {"dnids": "1,2,3"})
    assert "planToken" not in plan
    assert "PLAN_MAX_ROUTES" in plan["planTokenOmitted"]


def test_short_or_conflicting_keys_are_not_configured(
    env: Callable[..., None], post: Callable[..., TestResponse]
) -> None:
    env(PLAN_SIGNING_KEYS="short")
    response = post({"dnids": "1"})
    assert response.status_code == 503 and "32 characters" in response.get_json()["detail"]
    assert "short" not in response.get_json()["detail"]
    env(CALLER_POLICIES="{not json")
    assert post({"dnids": "1"}).get_json()["code"] == "not_configured"
    env(CALLER_POLICIES=json.dumps({"*": {"maxroutes": 3}}))
    assert "accessCodes, dryRunOnly" in post({"dnids": "1"}).get_json()["detail"]


@pytest.mark.parametrize(
    ("policy", "body", "allowed"),
    [
        ({"dryRunOnly": True}, {"dnids": "1"}, False),
        ({"dryRunOnly": True}, {"dnids": "1", "dryRun": True}, True),
        ({"requirePlan": True}, {"dnids": "1"}, False),
        ({"requirePlan": True}, {"dnids": "1", "dryRun": True}, True),
        ({"maxRoutes": 2}, {"dnids": "1,2,3"}, False),
        ({"maxRoutes": 3}, {"dnids": "1,2,3"}, True),
        ({"accessCodes": ["9911411"]}, {"routes": [{"accessCode": "9911411"}]}, True),
        ({"accessCodes": ["99*"]}, {"dnids": "1,4"}, True),
        ({"accessCodes": ["9911411"]}, {"dnids": "1,4"}, False),
    ],
)
def test_policy_fields(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    policy: dict[str, Any],
    body: dict[str, Any],
    allowed: bool,
) -> None:
    env(CALLER_POLICIES=json.dumps({"api_key:key-4b3ba27e64f1": policy}), PLAN_SIGNING_KEYS=KEY)
    response = post(body)
    if allowed:
        assert response.status_code == 200, response.get_json()
    else:
        assert response.status_code == 403 and response.get_json()["code"] == "forbidden"
        assert sim.calls("delete") == []


def test_require_plan_accepts_a_plan(env: Callable[..., None], post: Callable[..., TestResponse]) -> None:
    env(CALLER_POLICIES=json.dumps({"*": {"requirePlan": True}}), PLAN_SIGNING_KEYS=KEY)
    token = _dry(post, {"dnids": "1"})["planToken"]
    assert post({"planToken": token}).get_json()["status"] == "deleted"


def test_a_principal_without_policy_and_no_default_is_refused(
    env: Callable[..., None], post: Callable[..., TestResponse]
) -> None:
    env(CALLER_POLICIES=json.dumps({"api_key:someone-else": {}}))
    response = post({"dnids": "1", "dryRun": True})
    assert response.status_code == 403 and "no '*' entry" in response.get_json()["detail"]


def test_policies_from_secret_manager(
    env: Callable[..., None], post: Callable[..., TestResponse], secrets: FakeSecretManagerControl
) -> None:
    secrets.add_version("projects/test-project/secrets/policies", json.dumps({"*": {"dryRunOnly": True}}))
    env(CALLER_POLICIES_SECRET="projects/test-project/secrets/policies/versions/latest")
    assert post({"dnids": "1"}).status_code == 403
    assert post({"dnids": "1", "dryRun": True}).status_code == 200


def _audits(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return [x["audit"] for x in lines if x.get("message") == "called routes deleted"]


def test_plain_dnids_audit_says_what_is_known(
    env: Callable[..., None], post: Callable[..., TestResponse], capsys: pytest.CaptureFixture[str]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    capsys.readouterr()
    assert post({"dnids": "1,2"}).status_code == 200
    (audit,) = _audits(capsys)
    assert audit["recordsKnown"] == "dnid"
    assert audit["routes"] == [{"dnid": "1"}, {"dnid": "2"}]
    assert audit["notRestorable"] == ["1", "2"] and audit["notRestorableCount"] == 2
    assert audit["apiReported"] == {
        "names": ["9911411", "99114111"],
        "ids": ["1127983948544239618", "1127986019188238339"],
    }
    assert post({"dnids": "1,2"}).get_json()["results"][0]["outcome"] == "already_absent"
    # Gone, perhaps not by this request (the first one's answer may have been lost): recorded as unverified.
    (again,) = _audits(capsys)
    assert (again["routes"], [r["dnid"] for r in again["unverified"]]) == ([], ["1", "2"])
    assert again["notRestorable"] == ["1", "2"] and again["deletedCount"] == 0

    env()  # the default: looked up first
    assert post({"dnids": "3"}).status_code == 200
    (full,) = _audits(capsys)
    assert full["recordsKnown"] == "full"
    assert full["routes"][0]["accessCode"] == "9911411" and full["routes"][0]["extCode"] == "11"


def test_large_deletions_split_the_audit_entry(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim.add_routes(600, 3000, access_code="7700")
    capsys.readouterr()
    assert post({"routes": [{"accessCode": "7700"}]}).status_code == 200
    audits = _audits(capsys)
    assert len(audits) >= 2 and {a["parts"] for a in audits} == {len(audits)}
    assert [a["part"] for a in audits] == list(range(1, len(audits) + 1))
    assert len({a["recordId"] for a in audits}) == 1 and {a["deletedCount"] for a in audits} == {600}
    assert sum(len(a["routes"]) for a in audits) == 600
    assert all(len(json.dumps(a, ensure_ascii=True)) <= PART_BYTES for a in audits)
    assert API_KEY not in json.dumps(audits)


def test_routes_gone_after_a_lost_answer_are_audited_as_unverified(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim.inject({"stage": "delete", "status": 200, "body": "html", "afterAction": True})
    capsys.readouterr()
    body = post({"routes": [{"accessCode": "9911411"}]}).get_json()
    assert {r["outcome"] for r in body["results"]} == {"already_absent"}
    (audit,) = _audits(capsys)
    assert audit["routes"] == []
    assert sorted(r["dnid"] for r in audit["unverified"]) == ["1", "2", "3"]
    assert {r["accessCode"] for r in audit["unverified"]} == {"9911411"}
