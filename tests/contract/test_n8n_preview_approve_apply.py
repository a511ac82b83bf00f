"""docs/n8n/preview-approve-apply.json: dry run, Slack approval, apply the plan token.

The settings the recipe depends on (HTTP Request, Slack "Send and Wait for Response"),
the wiring of its loops, and every expression it branches or builds a body on, evaluated
by node on sample answers shaped like the function's (README: plan tokens, statuses).
n8n itself is not run in CI (scripts/n8n_real_run.py runs it, about 3 GB); the structure checks
shared with the first template are in test_n8n_template.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.contract import tools

PREVIEW, APPLY = "Preview (dry run)", "Apply the plan"
TOKEN = "p1.f63c669c.eNo1zUsK.Y62oY3gI"


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "docs" / "n8n" / "preview-approve-apply.json").read_text())
    return data


def _named(name: str) -> dict[str, Any]:
    (node,) = [n for n in _load()["nodes"] if n["name"] == name]
    found: dict[str, Any] = node
    return found


def _targets(source: str) -> list[list[str]]:
    return [[link["node"] for link in branch] for branch in _load()["connections"][source]["main"]]


def _evaluate(expression: str, cases: list[dict[str, Any]]) -> list[Any]:
    """Evaluate an n8n `={{ ... }}` expression with $json, $runIndex, $execution and $('node')."""
    node = tools.require_program("node", "it evaluates the template's expressions")
    assert expression.startswith("={{") and expression.endswith("}}")
    body = expression[3:-2]
    script = (
        "const cases = JSON.parse(process.argv[1]);"
        f"const f = new Function('$json', '$runIndex', '$execution', '$', 'return (' + {json.dumps(body)} + ');');"
        "const ref = (c) => (name) => {"
        "  if (!(name in (c.nodes || {}))) throw new Error('no output of node ' + name);"
        "  const item = { json: c.nodes[name] };"
        "  return { item, first: () => item, last: () => item };"
        "};"
        "console.log(JSON.stringify(cases.map(c => f(c.json, c.runIndex || 0, { id: '417' }, ref(c)))));"
    )
    result = subprocess.run(
        [node, "-e", script, json.dumps(cases)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    values: list[Any] = json.loads(result.stdout)
    return values


def _answer(
    status: int, body: Any, headers: dict[str, str] | None = None, run: int = 0, **nodes: Any
) -> dict[str, Any]:
    return {"json": {"statusCode": status, "body": body, "headers": headers or {}}, "runIndex": run, "nodes": nodes}


def _route(dnid: str, ext: str, deletable: bool = True, **extra: Any) -> dict[str, Any]:
    record = {"dnid": dnid, "id": "11279839485442396" + dnid.zfill(2), "accessCode": "4008001000", "extCode": ext}
    return record | {"target": {"type": "skill_queue", "id": 7, "name": "Support"}, "deletable": deletable, **extra}


PLANNED: dict[str, Any] = {
    "status": "planned",
    "dryRun": True,
    "dnids": ["1", "3"],
    "plan": [_route("1", ""), _route("2", "1", False, editable="2", reason="editable 2"), _route("3", "11")],
    "notFound": [],
    "planToken": TOKEN,
    "planId": "plan-e80076509919028f",
    "planExpiresAt": "2026-12-01T10:38:37Z",
    "requestId": "74611f2f6740423aacec945afa07e9c0",
}
UNSIGNED = {k: v for k, v in PLANNED.items() if not k.startswith("plan") or k == "plan"}
PARTIAL: dict[str, Any] = {
    "status": "partial",
    "dnids": ["1"],
    "results": [
        {"dnid": "1", "id": "1127983948544239618", "outcome": "deleted"},
        {
            "dnid": "3",
            "id": "1125397061153369092",
            "outcome": "changed",
            "description": "dnid 3 now belongs to another route (4009990000+(none), id 1150000000000000001); not sent",
        },
    ],
    "planId": "plan-e80076509919028f",
    "requestId": "9c0e",
}


def _problem(code: str, retryable: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "code": code,
        "retryable": retryable,
        "detail": code + " detail",
        "requestId": "r1",
    } | extra


def test_http_nodes_use_header_auth_json_full_response_and_never_error() -> None:
    for name in (PREVIEW, APPLY):
        http = _named(name)
        params = http["parameters"]
        assert http["type"] == "n8n-nodes-base.httpRequest" and http.get("retryOnFail") is False
        assert (params["method"], params["authentication"], params["genericAuthType"]) == (
            "POST",
            "genericCredentialType",
            "httpHeaderAuth",
        )
        assert "httpHeaderAuth" in http["credentials"] and params["options"]["timeout"] >= 30000
        assert params["options"]["response"]["response"] == {
            "fullResponse": True,
            "neverError": True,
            "responseFormat": "json",
        }
    assert "$env" not in json.dumps(_load())


def test_every_node_an_expression_names_exists() -> None:
    text = json.dumps(_load())
    names = {n["name"] for n in _load()["nodes"]}
    referenced = set(re.findall(r"\$\('([^']+)'\)", text))
    assert referenced == {"What to preview", PREVIEW} and referenced <= names


def test_preview_is_a_dry_run_and_the_apply_sends_only_the_token_with_a_stable_key() -> None:
    preview = json.loads(_named("What to preview")["parameters"]["jsonOutput"])
    assert preview["dryRun"] is True and 60 <= preview["planTtlSeconds"] <= 86400
    body = _evaluate(_named(PREVIEW)["parameters"]["jsonBody"], [{"json": {}, "nodes": {"What to preview": preview}}])
    assert json.loads(body[0]) == preview
    apply = _named(APPLY)["parameters"]
    case = {"json": {}, "nodes": {PREVIEW: {"statusCode": 200, "body": PLANNED}}}
    (sent,) = _evaluate(apply["jsonBody"], [case])
    assert json.loads(sent) == {"planToken": TOKEN}  # the only selector; no dryRun, no dnids
    (header,) = apply["headerParameters"]["parameters"]
    assert header["name"] == "Idempotency-Key"
    # Same execution and plan: the retry loop replays; a re-previewed plan gets a new key.
    assert _evaluate(header["value"], [case]) == ["n8n-417-plan-e80076509919028f"]


def test_approval_is_slack_send_and_wait_until_the_plan_expires() -> None:
    slack = _named("Ask for approval in Slack")
    params = slack["parameters"]
    assert slack["type"] == "n8n-nodes-base.slack" and "slackApi" in slack["credentials"] and slack["webhookId"]
    assert (params["resource"], params["operation"], params["responseType"]) == ("message", "sendAndWait", "approval")
    assert params["approvalOptions"]["values"]["approvalType"] == "double"  # a Decline button, not only Approve
    limit = params["options"]["limitWaitTime"]["values"]
    assert limit["limitType"] == "atSpecifiedTime"
    assert _evaluate(limit["maxDateAndTime"], [_answer(200, PLANNED)]) == [PLANNED["planExpiresAt"]]
    (message,) = _evaluate(params["message"], [_answer(200, PLANNED)])
    lines = message.split("\n")
    assert lines[0] == "Delete 2 called route(s)? Plan plan-e80076509919028f, valid until 2026-12-01T10:38:37Z (UTC)."
    assert lines[1:3] == [
        "- dnid 1: 4008001000 -> skill_queue Support",
        "- dnid 3: 4008001000 ext 11 -> skill_queue Support",
    ]
    assert lines[3] == "Kept (not deletable): 2 (editable 2)"
    assert TOKEN not in message  # the approver sees the routes; the token stays in the workflow


def test_slack_message_stays_short_for_a_large_plan() -> None:
    many = PLANNED | {"dnids": [str(i) for i in range(1, 501)], "plan": [_route(str(i), "") for i in range(1, 501)]}
    (message,) = _evaluate(_named("Ask for approval in Slack")["parameters"]["message"], [_answer(200, many)])
    assert message.count("- dnid ") == 30 and "... and 470 more" in message and len(message) < 3000


def test_preview_branches_to_approval_retry_or_fail() -> None:
    switch = _named("Branch on the preview")["parameters"]
    cases = [
        _answer(200, PLANNED),
        _answer(200, UNSIGNED | {"planTokenOmitted": "nothing in this plan can be deleted"}),
        _answer(200, UNSIGNED),
        _answer(503, _problem("upstream_unavailable", True), {"retry-after": "7"}),
        _answer(504, _problem("upstream_timeout", True), run=5),  # tries used up
        _answer(400, _problem("invalid_request")),
        _answer(403, _problem("forbidden")),
        _answer(503, _problem("not_configured")),
    ]
    assert switch["numberOutputs"] == 3
    assert _evaluate(switch["output"], cases) == [0, 2, 2, 1, 2, 2, 2, 2]
    assert _targets("Branch on the preview") == [
        ["Ask for approval in Slack"],
        ["Wait Retry-After (preview)"],
        ["Fail: no plan"],
    ]
    assert _targets("Wait Retry-After (preview)") == [[PREVIEW]]
    messages = _evaluate(_named("Fail: no plan")["parameters"]["errorMessage"], [cases[1], cases[2], cases[6]])
    assert messages == [
        "HTTP 200 planned: the dry run carries no planToken: nothing in this plan can be deleted"
        " (requestId 74611f2f6740423aacec945afa07e9c0)",
        "HTTP 200 planned: the dry run carries no planToken: set PLAN_SIGNING_KEYS on the function"
        " (requestId 74611f2f6740423aacec945afa07e9c0)",
        "HTTP 403 forbidden: forbidden detail (requestId r1)",
    ]


def test_only_an_explicit_approval_applies() -> None:
    switch = _named("Approved?")["parameters"]
    cases: list[dict[str, Any]] = [
        {"json": {"data": {"approved": True, "respondedAt": "2026-12-01T09:40:00Z"}}},
        {"json": {"data": {"approved": False}}},
        {"json": {"statusCode": 200, "body": PLANNED}},  # no decision in the item (the wait limit passed)
    ]
    assert switch["numberOutputs"] == 2 and _evaluate(switch["output"], cases) == [0, 1, 1]
    assert _targets("Approved?") == [[APPLY], ["Not approved: nothing deleted"]]


@pytest.fixture
def applied() -> list[dict[str, Any]]:
    all_changed = PARTIAL | {"status": "failed", "dnids": [], "results": [PARTIAL["results"][1]]}
    return [
        _answer(200, {"status": "deleted", "dnids": ["1", "3"], "planId": "plan-e80076509919028f"}),  # 0
        _answer(207, PARTIAL),  # 1
        _answer(422, all_changed),  # 2: every approved route changed: a result, not a problem
        _answer(422, _problem("plan_expired")),  # 3
        _answer(422, _problem("plan_expired"), run=5),  # 4: re-previewed enough
        _answer(400, _problem("plan_invalid")),  # 5
        _answer(403, _problem("plan_wrong_caller")),  # 6
        _answer(403, _problem("forbidden")),  # 7
        _answer(409, _problem("in_progress", True), {"retry-after": "1"}),  # 8
        _answer(503, _problem("upstream_unavailable", True), {"retry-after": "7"}),  # 9
        _answer(502, _problem("upstream_bad_response", True), run=1),  # 10
        _answer(504, _problem("upstream_timeout", True), run=5),  # 11: tries used up
        _answer(503, _problem("not_configured")),  # 12
        _answer(422, _problem("idempotency_key_reused")),  # 13
    ]


def test_apply_branches_on_status_plan_problems_and_retryable(applied: list[dict[str, Any]]) -> None:
    switch = _named("Branch on the apply")["parameters"]
    assert switch["numberOutputs"] == 5
    # 0 done, 1 report what was not deleted, 2 plan expired: preview again, 3 wait and retry, 4 fail with our code
    assert _evaluate(switch["output"], applied) == [0, 1, 1, 2, 4, 4, 4, 4, 3, 3, 3, 4, 4, 4]
    assert _targets("Branch on the apply") == [
        ["Done (200: every approved route is gone)"],
        ["Report routes not deleted (changed, protected, failed)"],
        [PREVIEW],  # a new dry run, so a new plan and a new approval
        ["Wait Retry-After (apply)"],
        ["Fail with our code"],
    ]
    assert _targets("Wait Retry-After (apply)") == [[APPLY]]


def test_report_lists_changed_routes(applied: list[dict[str, Any]]) -> None:
    report = _named("Report routes not deleted (changed, protected, failed)")["parameters"]
    assert report["mode"] == "raw"
    partial, all_changed = (json.loads(v) for v in _evaluate(report["jsonOutput"], applied[1:3]))
    changed = {
        "dnid": "3",
        "id": "1125397061153369092",
        "outcome": "changed",
        "description": PARTIAL["results"][1]["description"],
    }
    assert partial == {
        "needsAttention": True,
        "httpStatus": 207,
        "planId": "plan-e80076509919028f",
        "status": "partial",
        "requestId": "9c0e",
        "deleted": ["1"],
        "alreadyAbsent": [],
        "notDeleted": [changed],
    }
    assert all_changed["status"] == "failed" and all_changed["deleted"] == [] and all_changed["notDeleted"] == [changed]


def test_apply_wait_and_failure_message(applied: list[dict[str, Any]]) -> None:
    wait = _named("Wait Retry-After (apply)")["parameters"]
    assert wait["unit"] == "seconds" and wait == _named("Wait Retry-After (preview)")["parameters"]
    # 409: 8 s (5 tries outlast a key's 30 s hold); else Retry-After, else 5 * 2^n s, at most 60 s.
    assert _evaluate(wait["amount"], [applied[8], applied[9], applied[10], applied[11]]) == [8, 7, 10, 60]
    messages = _evaluate(
        _named("Fail with our code")["parameters"]["errorMessage"], [applied[5], applied[6], applied[4]]
    )
    assert messages == [
        "HTTP 400 plan_invalid: plan_invalid detail (requestId r1)",
        "HTTP 403 plan_wrong_caller: plan_wrong_caller detail (requestId r1)",
        "HTTP 422 plan_expired: plan_expired detail (requestId r1)",
    ]


def test_apply_reports_protected_or_unknown_routes_and_ends_needing_attention() -> None:
    switch = _named("Branch on the apply")["parameters"]["output"]
    protected = {"dnid": "10", "id": "1140000000000000010", "outcome": "protected", "description": "kept"}
    unknown = {"dnid": "11", "id": "1140000000000000011", "outcome": "unknown", "description": "no answer"}
    cases = [
        _answer(200, {"status": "deleted", "results": [protected]}),
        _answer(200, {"status": "deleted", "results": [unknown]}),
        _answer(429, "Rate exceeded."),  # a front end's text/plain: not ours, retried
        _answer(429, "Rate exceeded.", run=3),  # and then given up
    ]
    assert _evaluate(switch, cases) == [1, 1, 3, 4]
    assert _targets("Report routes not deleted (changed, protected, failed)") == [["Needs attention"]]
    assert _named("Needs attention")["type"] == "n8n-nodes-base.stopAndError"


def test_the_preview_sends_no_idempotency_key() -> None:
    """Dry runs ignore keys (README): the preview sends none, and so cannot be answered 409."""
    assert "headerParameters" not in _named(PREVIEW)["parameters"]
