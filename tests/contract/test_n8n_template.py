"""docs/n8n/*.json: the structure n8n import:workflow reads, the settings the recipe
depends on, and the branch and wait expressions evaluated by node on sample answers.

n8n itself is not run here (2.x needs node >= 24 and about 3 GB); what n8n does with
these settings is in docs/INTEGRATIONS.md, with its sources.
"""

from __future__ import annotations

import json
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


def test_both_templates_are_there() -> None:
    assert [p.name for p in TEMPLATES] == ["delete-called-routes.json", "preview-approve-apply.json"]


@pytest.mark.parametrize("template", [p.name for p in TEMPLATES])
def test_workflow_structure_is_importable(template: str) -> None:
    workflow = _load(template)
    assert isinstance(workflow["name"], str) and workflow["settings"]["executionOrder"] == "v1"
    names = [n["name"] for n in workflow["nodes"]]
    assert len(names) == len(set(names))
    for node in workflow["nodes"]:
        assert set(node) >= {"id", "name", "type", "typeVersion", "position", "parameters"}
        assert node["type"].startswith("n8n-nodes-base.") and len(node["position"]) == 2
    for source, outputs in workflow["connections"].items():
        assert source in names
        for branch in outputs["main"]:
            for link in branch:
                assert link["node"] in names and link["type"] == "main"
    # Every node but the trigger is reached.
    targets = {link["node"] for o in workflow["connections"].values() for b in o["main"] for link in b}
    assert targets == set(names) - {"Start"}


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
    node = tools.require_program("node", "it evaluates the template's expressions")
    assert expression.startswith("={{") and expression.endswith("}}")
    body = expression[3:-2]
    script = (
        "const cases = JSON.parse(process.argv[1]);"
        f"const f = new Function('$json', '$runIndex', 'return (' + {json.dumps(body)} + ');');"
        "console.log(JSON.stringify(cases.map(c => f(c.json, c.runIndex))));"
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
        _answer(504, {"code": "upstream_timeout", "retryable": True}, run=4),  # tries used up
        _answer(502, {"code": "upstream_rejected", "retryable": False}),
    ]


def test_branches_follow_status_and_retryable(answers: list[dict[str, Any]]) -> None:
    switch = _node(_load(), "n8n-nodes-base.switch")
    assert switch["parameters"]["numberOutputs"] == 4
    # 0 done, 1 partial, 2 wait and retry, 3 fail with our code
    assert _evaluate(switch["parameters"]["output"], answers) == [0, 0, 1, 3, 3, 3, 2, 2, 3, 2, 3, 3]


def test_wait_honours_retry_after_else_backs_off(answers: list[dict[str, Any]]) -> None:
    wait = _node(_load(), "n8n-nodes-base.wait")
    assert wait["parameters"]["unit"] == "seconds"
    waits = _evaluate(wait["parameters"]["amount"], [answers[6], answers[7], answers[9], answers[10]])
    assert waits == [1, 7, 10, 80]


def test_failure_message_carries_our_code_not_n8n_s(answers: list[dict[str, Any]]) -> None:
    stop = _node(_load(), "n8n-nodes-base.stopAndError")
    messages = _evaluate(stop["parameters"]["errorMessage"], [answers[5], answers[3]])
    assert messages[0].startswith("HTTP 400 invalid_request") and messages[1].startswith("HTTP 422 failed")
