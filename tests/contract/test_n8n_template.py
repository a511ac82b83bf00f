"""docs/n8n/*.json: the structure n8n import:workflow reads, the settings the recipe
depends on, and the branch and wait expressions evaluated by node on sample answers.

n8n itself is not run in CI: scripts/n8n_real_run.py imports and executes the templates in
real n8n 2.41.1 (about 3 GB); what n8n does with these settings is in docs/INTEGRATIONS.md,
with its sources.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.contract import tools

TEMPLATES = sorted((ROOT / "docs" / "n8n").glob("*.json"))


def _load(name: str = "delete-called-routes.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "docs" / "n8n" / name).read_text())
    return data


def _node(workflow: dict[str, Any], node_type: str) -> dict[str, Any]:
    (node,) = [n for n in workflow["nodes"] if n["type"] == node_type]
    return node


def _named(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (node,) = [n for n in workflow["nodes"] if n["name"] == name]
    return node


def test_both_templates_are_there() -> None:
    assert [p.name for p in TEMPLATES] == ["delete-called-routes.json", "preview-approve-apply.json"]


# What n8n 2.41.1's `import:workflow` requires and does (packages/cli/src/commands/import/
# workflow.ts, services/import.service.ts, n8n-workflow's workflow-structure-validation.ts,
# @n8n/db's WorkflowEntity): a top-level id (the primary key: without it the insert fails
# with NOT NULL constraint failed: workflow_entity.id), a unique name of 1-128 characters,
# nodes with a name, type and [x, y] position, unique node names and ids, connections
# between existing nodes with an integer index; a credential is linked by its id, else by
# its exact name and type, and only if it exists when the workflow is imported.
CREDENTIAL_NAMES = {"httpHeaderAuth": "CEC function API key (X-API-Key)", "slackApi": "Slack bot (chat:write)"}


@pytest.mark.parametrize("template", [p.name for p in TEMPLATES])
def test_workflow_meets_the_cli_import_constraints(template: str) -> None:
    workflow = _load(template)
    assert re.fullmatch(r"[A-Za-z0-9]{16}", workflow["id"])  # the form of n8n's own ids
    assert isinstance(workflow["name"], str) and 1 <= len(workflow["name"]) <= 128
    assert workflow["active"] is False and workflow["settings"]["executionOrder"] == "v1"
    names = [n["name"] for n in workflow["nodes"]]
    ids = [n["id"] for n in workflow["nodes"]]
    assert len(names) == len(set(names)) and len(ids) == len(set(ids))
    for node in workflow["nodes"]:
        assert set(node) >= {"id", "name", "type", "typeVersion", "position", "parameters"}
        assert node["type"].startswith("n8n-nodes-base.") and len(node["position"]) == 2
        assert all(isinstance(x, int | float) for x in node["position"])
        for kind, credential in node.get("credentials", {}).items():
            assert credential["name"] == CREDENTIAL_NAMES[kind], node["name"]
    for source, outputs in workflow["connections"].items():
        assert source in names and set(outputs) == {"main"}
        for branch in outputs["main"]:
            for link in branch:
                assert link["node"] in names and link["type"] == "main" and link["index"] == 0
    # Every node but the trigger is reached.
    targets = {link["node"] for o in workflow["connections"].values() for b in o["main"] for link in b}
    assert targets == set(names) - {"Start"}


def test_templates_have_distinct_ids_and_names() -> None:
    workflows = [_load(p.name) for p in TEMPLATES]
    assert len({w["id"] for w in workflows}) == len({w["name"] for w in workflows}) == len(workflows)


def test_the_docs_name_the_credentials_exactly_and_say_they_must_exist_first() -> None:
    text = (ROOT / "docs" / "INTEGRATIONS.md").read_text()
    for name in CREDENTIAL_NAMES.values():
        assert f"`{name}`" in text
    assert "before you import" in text


@pytest.mark.parametrize("template", [p.name for p in TEMPLATES])
def test_every_http_node_sends_failures_to_a_bounded_retry(template: str) -> None:
    """A refused connection, a timeout or an answer that is not JSON (Cloud Run's 429
    text/plain) makes the HTTP Request node fail: its error output (onError
    continueErrorOutput) goes to a switch that waits 5, 10, 20 s and tries again, then gives up."""
    workflow = _load(template)
    nodes = {n["name"]: n for n in workflow["nodes"]}
    links = {s: [[t["node"] for t in b] for b in o["main"]] for s, o in workflow["connections"].items()}
    for http in (n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.httpRequest"):
        assert http["onError"] == "continueErrorOutput"
        (retry,) = links[http["name"]][1]
        wait, give_up = (name for (name,) in links[retry])
        assert links[wait] == [[http["name"]]] and nodes[give_up]["type"] == "n8n-nodes-base.stopAndError"
        cases = [{"json": {"error": {"message": "connect ECONNREFUSED"}}, "runIndex": r} for r in range(5)]
        assert _evaluate(nodes[retry]["parameters"]["output"], cases) == [0, 0, 0, 1, 1]
        assert _evaluate(nodes[wait]["parameters"]["amount"], cases[:3]) == [5, 10, 20]
        (message,) = _evaluate(nodes[give_up]["parameters"]["errorMessage"], cases[:1])
        assert message.endswith("connect ECONNREFUSED")


def test_http_node_uses_header_auth_json_full_response_and_never_errors() -> None:
    http = _node(_load(), "n8n-nodes-base.httpRequest")
    params = http["parameters"]
    assert (params["method"], params["authentication"], params["genericAuthType"]) == (
        "POST",
        "genericCredentialType",
        "httpHeaderAuth",
    )
    assert "httpHeaderAuth" in http["credentials"]
    assert params["options"]["response"]["response"] == {
        "fullResponse": True,
        "neverError": True,
        "responseFormat": "json",
    }
    # Retry On Fail would retry 4xx too, ignore Retry-After and cap the wait at 5 s.
    assert http.get("retryOnFail") is False
    assert params["options"]["timeout"] >= 30000
    assert "$env" not in json.dumps(_load())  # blocked in Code and expressions on n8n 2.x by default
    (header,) = params["headerParameters"]["parameters"]
    assert header["name"] == "Idempotency-Key" and "$execution.id" in header["value"]


def _evaluate(expression: str, cases: list[dict[str, Any]]) -> list[Any]:
    """Evaluate an n8n `={{ ... }}` expression with $json, $runIndex, $itemIndex, $execution
    and $('node') (a case's "nodes": node name -> that node's item json)."""
    node = tools.require_program("node", "it evaluates the template's expressions")
    assert expression.startswith("={{") and expression.endswith("}}")
    body = expression[3:-2]
    script = (
        "const cases = JSON.parse(process.argv[1]);"
        "const f = new Function('$json', '$runIndex', '$itemIndex', '$execution', '$',"
        f" 'return (' + {json.dumps(body)} + ');');"
        "const ref = (c) => (name) => {"
        "  if (!(name in (c.nodes || {}))) throw new Error('no output of node ' + name);"
        "  const item = { json: c.nodes[name] };"
        "  return { item, first: () => item, last: () => item };"
        "};"
        "console.log(JSON.stringify(cases.map(c => f(c.json, c.runIndex || 0, 0, { id: '417' }, ref(c)))));"
    )
    result = subprocess.run(
        [node, "-e", script, json.dumps(cases)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    values: list[Any] = json.loads(result.stdout)
    return values


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None, run: int = 0) -> dict[str, Any]:
    return {"json": {"statusCode": status, "body": body, "headers": headers or {}}, "runIndex": run}


@pytest.fixture
def answers() -> list[dict[str, Any]]:
    return [
        _answer(200, {"status": "deleted"}),
        _answer(200, {"status": "planned", "dryRun": True}),
        _answer(207, {"status": "partial"}),
        _answer(422, {"status": "failed"}),
        _answer(422, {"code": "idempotency_key_reused", "retryable": False}),
        _answer(400, {"code": "invalid_request", "retryable": False}),
        _answer(409, {"code": "in_progress", "retryable": True}, {"retry-after": "1"}),
        _answer(503, {"code": "upstream_unavailable", "retryable": True}, {"retry-after": "7"}),
        _answer(503, {"code": "not_configured", "retryable": False}),
        _answer(502, {"code": "upstream_bad_response", "retryable": True}, run=1),
        _answer(504, {"code": "upstream_timeout", "retryable": True}, run=5),  # tries used up
        _answer(502, {"code": "upstream_rejected", "retryable": False}),
    ]


def test_branches_follow_status_and_retryable(answers: list[dict[str, Any]]) -> None:
    switch = _named(_load(), "Branch on the answer")
    assert switch["parameters"]["numberOutputs"] == 4
    # 0 done, 1 needs attention, 2 wait and retry, 3 fail with our code
    assert _evaluate(switch["parameters"]["output"], answers) == [0, 0, 1, 3, 3, 3, 2, 2, 3, 2, 3, 3]


def test_wait_honours_retry_after_else_backs_off(answers: list[dict[str, Any]]) -> None:
    wait = _named(_load(), "Wait Retry-After")
    assert wait["parameters"]["unit"] == "seconds"
    waits = _evaluate(wait["parameters"]["amount"], [answers[6], answers[7], answers[9], answers[10]])
    # 409: 8 s whatever Retry-After says (below); else Retry-After, else 5 * 2^n s, at most 60 s
    # (a Wait under 65 s stays in the process: n8n execute and test runs can follow it).
    assert waits == [8, 7, 10, 60]


def test_failure_message_carries_our_code_not_n8n_s(answers: list[dict[str, Any]]) -> None:
    stop = _named(_load(), "Fail with our code")
    messages = _evaluate(stop["parameters"]["errorMessage"], [answers[5], answers[3]])
    assert messages[0].startswith("HTTP 400 invalid_request") and messages[1].startswith("HTTP 422 failed")


def test_an_answer_that_is_not_our_json_is_retried_a_few_times_then_fails() -> None:
    switch = _named(_load(), "Branch on the answer")["parameters"]["output"]
    answer = {"statusCode": 429, "body": "Rate exceeded.", "headers": {}}  # Cloud Run's front end, text/plain
    rate_limited = [{"json": answer, "runIndex": r} for r in range(4)]
    assert _evaluate(switch, rate_limited) == [2, 2, 2, 3]


def test_the_409_wait_outlasts_the_longest_key_hold() -> None:
    """A running request holds its key for REQUEST_BUDGET_SECONDS + 5 s (README,
    idempotency keys): the retries of a 409 wait longer than that in all."""
    from function.settings import Settings

    hold = Settings.model_fields["request_budget_seconds"].default + 5
    workflow = _load()
    switch = _named(workflow, "Branch on the answer")["parameters"]["output"]
    wait = _named(workflow, "Wait Retry-After")["parameters"]["amount"]
    busy = [_answer(409, {"code": "in_progress", "retryable": True}, {"retry-after": "1"}, run=r) for r in range(10)]
    retried = [case for case, branch in zip(busy, _evaluate(switch, busy), strict=True) if branch == 2]
    assert sum(_evaluate(wait, retried)) > hold


def test_idempotency_key_is_defined_for_every_selector() -> None:
    http = _named(_load(), "Delete called routes")["parameters"]
    (header,) = http["headerParameters"]["parameters"]
    bodies = [{"dnids": "1,2"}, {"routes": [{"accessCode": "9911411"}]}, {"ids": ["1127983948544239618"]}]
    keys = _evaluate(header["value"], [{"json": {}, "nodes": {"What to delete": b}} for b in bodies])
    assert keys == ["n8n-417-0"] * 3  # the execution and the item: retries replay, the next run is new


def test_a_207_or_a_protected_or_unknown_route_needs_attention() -> None:
    workflow = _load()
    switch = _named(workflow, "Branch on the answer")["parameters"]["output"]
    results = [{"dnid": "1", "outcome": "deleted"}, {"dnid": "10", "outcome": "protected", "description": "kept"}]
    cases = [
        _answer(207, {"status": "partial", "failed": ["4008000001"]}),
        _answer(422, {"status": "failed", "results": results[1:]}),
        _answer(200, {"status": "deleted", "results": [{"dnid": "2", "outcome": "unknown"}]}),
        _answer(200, {"status": "deleted", "results": results[:1]}),
    ]
    assert _evaluate(switch, cases) == [1, 1, 1, 0]
    links = {s: [[t["node"] for t in b] for b in o["main"]] for s, o in workflow["connections"].items()}
    assert links["Branch on the answer"][1] == ["Report routes not deleted"]
    assert links["Report routes not deleted"] == [["Needs attention"]]
    report = _named(workflow, "Report routes not deleted")["parameters"]["jsonOutput"]
    reports = [json.loads(r) for r in _evaluate(report, cases[:2])]
    assert reports[0]["notDeleted"] == [{"route": "4008000001", "outcome": "failed"}]
    assert reports[1]["notDeleted"] == [{"dnid": "10", "outcome": "protected", "description": "kept"}]
    attention = _named(workflow, "Needs attention")
    assert attention["type"] == "n8n-nodes-base.stopAndError"  # the execution ends failed: an error workflow fires
    (message,) = _evaluate(attention["parameters"]["errorMessage"], [{"json": reports[1]}])
    assert message.startswith("Needs attention: HTTP 422 failed, 1 route(s) not deleted: 10 protected")
