"""The monitoring module reads fields the function really logs.

infra/terraform/monitoring.tf builds log-based metrics from the summary line
(function/edge/handler.py). Here real requests go through the function (in-process app,
simulator and fake Secret Manager over loopback), their summary lines are turned into
log entries the way Cloud Logging does it (the special field httpRequest moves out of
jsonPayload), and every filter field and extractor of the metrics must find its value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from ._infra import ROOT, TF_DIR, load_tf, unwrap

EXTRACT = re.compile(r"EXTRACT\(([^)]+)\)")
# Stages the client library counts that no request of the function makes.
NOT_IN_REQUESTS = {"create": "createCalledRoute: scripts/restore_routes.py only, the function never creates"}


def monitoring_tf() -> dict[str, Any]:
    return load_tf(TF_DIR / "monitoring.tf")


def metric_bodies() -> dict[str, dict[str, Any]]:
    bodies = {}
    for block in monitoring_tf()["resource"]:
        for name, body in block.get("google_logging_metric", {}).items():
            bodies[name] = body
    return bodies


def stages_in_code() -> set[str]:
    code = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "function").rglob("*.py")))
    found = set(re.findall(r'count_call\("(\w+)"\)', code))
    found |= set(re.findall(r'\bstage="(\w+)"', code))
    found |= set(re.findall(r'self\._call\(\w+, "(\w+)"', code))
    # ...and of those, the ones a request of the function can make.
    assert not re.search(r"\.create_called_route\(", code), "the function now creates routes: count that stage"
    return found - set(NOT_IN_REQUESTS)


def as_log_entry(line: dict[str, Any]) -> dict[str, Any]:
    payload = dict(line)
    entry = {"jsonPayload": payload}
    if "httpRequest" in payload:
        entry["httpRequest"] = payload.pop("httpRequest")
    return entry


def lookup(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@pytest.fixture
def entries(post: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    requests = [
        {"dnids": "1"},  # cold: secret read, token, delete
        {"routes": [{"accessCode": "9911411"}], "dryRun": True},  # query
        {"routes": [{"accessCode": "9911411"}]},  # query + delete
        {"dnids": ""},  # a problem: 400 invalid_request
    ]
    for body in requests:
        post(body)
    post({"dnids": "1"}, key="wrong-key")  # 401 before authentication
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    result = [as_log_entry(line) for line in lines]
    # The metrics' filter (httpRequest present) keeps exactly one entry per request.
    assert sum(1 for e in result if "httpRequest" in e) == len(requests) + 1
    return [e for e in result if "httpRequest" in e]


def test_upstream_stages_are_the_ones_the_function_counts(entries: list[dict[str, Any]]) -> None:
    declared = json.loads(unwrap(monitoring_tf()["locals"][0]["upstream_stages"]).replace("'", '"'))
    assert set(declared) == stages_in_code() == {"secret", "token", "query", "delete"}
    seen = {stage for e in entries for stage in e["jsonPayload"].get("upstreamCalls", {})}
    assert seen == set(declared)


def test_every_extractor_finds_its_field_in_a_summary_line(entries: list[dict[str, Any]]) -> None:
    bodies = metric_bodies()
    assert set(bodies) == {"requests", "deleted_routes", "duration", "upstream_calls"}
    for name, body in bodies.items():
        extractors = dict(body.get("label_extractors", {}))
        if "value_extractor" in body:
            extractors["value"] = body["value_extractor"]
        for label, expression in extractors.items():
            (path,) = EXTRACT.findall(str(expression))
            if "${each.key}" in path:
                paths = [path.replace("${each.key}", stage) for stage in stages_in_code()]
            else:
                paths = [path]
            for concrete in paths:
                values = [lookup(e, concrete) for e in entries]
                present = [v for v in values if v is not None]
                assert present, f"{name}.{label}: {concrete} is in no summary line"
                if label == "value":
                    assert all(isinstance(v, int | float) for v in present), (name, concrete, present)


def test_labels_carry_what_the_alerts_and_tiles_filter_on(entries: list[dict[str, Any]]) -> None:
    statuses = {e["httpRequest"]["status"] for e in entries}
    assert {200, 400, 401} <= statuses
    codes = {e["jsonPayload"].get("code") for e in entries}
    assert {"invalid_request", "unauthenticated"} <= codes
    outcomes = {e["jsonPayload"].get("outcome") for e in entries}
    assert {"deleted", "planned"} <= outcomes
    callers = {e["jsonPayload"].get("caller") for e in entries}
    assert any(str(c).startswith("api_key:") for c in callers)
    # The alert's code is a real one: function/errors.py defines upstream_auth_failed.
    errors = (ROOT / "function" / "errors.py").read_text(encoding="utf-8")
    assert '"upstream_auth_failed"' in errors
    alert = (TF_DIR / "monitoring.tf").read_text(encoding="utf-8")
    assert 'metric.label.code=\\"upstream_auth_failed\\"' in alert
