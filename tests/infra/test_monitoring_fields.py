"""The monitoring module reads fields the function really logs.

infra/terraform/monitoring.tf builds log-based metrics from the summary line
(function/edge/handler.py). Here real requests go through the function (in-process app,
simulator and fake Secret Manager over loopback), their summary lines are turned into
log entries the way Cloud Logging does it (the special field httpRequest moves out of
jsonPayload), and every filter field and extractor of the metrics must find its value.
The metrics' filters are evaluated on those entries term by term (`path:*`,
`path="value"`, `path>N`, joined by AND): each matches the lines it is meant to count
and no other. The resource and logName terms are the platform's and are not on a line.
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


# The one metric not built from the summary line: new versions of the function's secrets,
# from the Admin Activity audit log (tests/infra/test_terraform_plan.py checks its filter).
AUDIT_LOG_METRICS = {"secret_versions": "${local.secret_version_filter}"}


def metric_bodies() -> dict[str, dict[str, Any]]:
    """The metrics over the function's summary line."""
    bodies = {}
    for block in monitoring_tf()["resource"]:
        for name, body in block.get("google_logging_metric", {}).items():
            if name in AUDIT_LOG_METRICS:
                assert body["filter"] == AUDIT_LOG_METRICS[name], (name, body["filter"])
                continue
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


def monitoring_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in monitoring_tf()["locals"]:
        merged.update(block)
    return merged


def summary_terms() -> list[str]:
    """local.summary_filter's terms, as the module joins them."""
    text = str(monitoring_locals()["summary_filter"])
    terms = [t.replace('\\"', '"') for t in re.findall(r'"((?:[^"\\]|\\.)*)"', text.split("[", 1)[1])]
    return [t.replace("${var.name}", "cec-called-routes") for t in terms]


def concrete_metrics() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Every metric instance the module creates: its filter's terms and its extractors
    (label or "value" -> field path), with each.key / each.value resolved."""
    variables = monitoring_locals()
    found: dict[str, tuple[list[str], dict[str, str]]] = {}
    for name, body in metric_bodies().items():
        for_each = str(body.get("for_each", ""))
        source = re.search(r"local\.(\w+)\)? :", for_each)
        if source is None:
            instances: dict[str, str] = {"": ""}
        elif source.group(1) == "upstream_stages":
            instances = {stage: stage for stage in stages_in_code()}
        else:
            value = variables[source.group(1)]
            instances = dict(value) if isinstance(value, dict) else {key: key for key in value}
        for key, each_value in instances.items():

            def resolve(text: str, key: str = key, each_value: str = each_value) -> str:
                return text.replace("${each.key}", key).replace("${each.value}", each_value)

            flt = resolve(str(body["filter"]))
            assert flt.startswith("${local.summary_filter}"), (name, flt)
            terms = summary_terms() + [t for t in flt.split(" AND ")[1:]]
            extractors = dict(body.get("label_extractors", {}))
            if "value_extractor" in body:
                extractors["value"] = body["value_extractor"]
            paths = {label: EXTRACT.findall(resolve(str(e)))[0] for label, e in extractors.items()}
            found[f"{name}[{key}]" if key else name] = (terms, paths)
    return found


TERM = re.compile(r'^([\w.]+)(?::(\*)|="([^"]*)"|>(\d+))$')


def matches(entry: dict[str, Any], terms: list[str]) -> bool:
    for term in terms:
        if term.startswith(("resource.", "logName")):
            continue  # set by the platform on every entry of the function's service
        parsed = TERM.match(term)
        assert parsed, f"a term this check cannot evaluate: {term}"
        path, present, equals, above = parsed.groups()
        value = lookup(entry, path)
        if present and value is None:
            return False
        if equals is not None and str(value) != equals:
            return False
        if above is not None and not (isinstance(value, int | float) and value > int(above)):
            return False
    return True


@pytest.fixture
def unfinished_entries(
    post: Callable[..., Any], sim: Any, env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> dict[str, dict[str, Any]]:
    """Summary lines of requests that did not fully delete, and of some that did or asked
    nothing to be deleted, by what each request was. Sent without the lookup first, so
    that the API's own answers decide and the deletions are not restorable."""
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    capsys.readouterr()
    post({"dnids": "5,6"})  # 5 deletable, 6 marked not deletable: partial, one protected
    post({"dnids": "6,7"})  # both protected: failed
    sim.inject(  # refused, and the lookup that would tell what happened fails: unknown
        {"stage": "delete", "returnCode": "9", "description": "system busy"},
        {"stage": "query", "status": 500, "times": 10},
    )
    post({"dnids": "1"})
    sim.clear_faults()
    sim.inject({"stage": "delete", "returnCode": "9", "description": "system busy"})  # refused, still there
    post({"dnids": "2"})
    sim.clear_faults()
    post({"dnids": "3"})  # deleted
    post({"routes": [{"accessCode": "9911411"}], "dryRun": True})  # planned
    post({"dnids": ""})  # a problem
    names = ["partial", "failed", "unknown", "route_failed", "deleted", "planned", "problem"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summaries = [as_log_entry(line) for line in lines if "httpRequest" in line]
    assert len(summaries) == len(names)
    return dict(zip(names, summaries, strict=True))


def test_the_captured_requests_are_what_the_alerts_are_about(unfinished_entries: dict[str, dict[str, Any]]) -> None:
    payload = {name: e["jsonPayload"] for name, e in unfinished_entries.items()}
    assert payload["partial"]["outcome"] == "partial" and payload["partial"]["outcomes"]["protected"] == 1
    assert payload["failed"]["outcome"] == "failed" and payload["failed"]["outcomes"] == {"protected": 2}
    assert payload["unknown"]["outcomes"] == {"unknown": 1}
    assert payload["route_failed"]["outcomes"] == {"failed": 1}
    assert payload["deleted"]["outcome"] == "deleted" and payload["planned"]["outcome"] == "planned"
    assert payload["problem"]["code"] == "invalid_request"


def test_the_unfinished_metrics_count_exactly_the_partial_and_failed_requests(
    unfinished_entries: dict[str, dict[str, Any]],
) -> None:
    metrics = concrete_metrics()
    for outcome in ("partial", "failed"):
        terms, paths = metrics[f"unfinished[{outcome}]"]
        assert f'jsonPayload.outcome="{outcome}"' in terms
        matched = {name for name, e in unfinished_entries.items() if matches(e, terms)}
        expected = {name for name, e in unfinished_entries.items() if e["jsonPayload"].get("outcome") == outcome}
        assert matched == expected and outcome in matched, (outcome, matched)
        assert all(lookup(unfinished_entries[n], paths["caller"]) for n in matched)


@pytest.mark.parametrize("kind", ["protected", "unknown", "failed"])
def test_each_route_count_metric_matches_the_requests_with_such_routes(
    unfinished_entries: dict[str, dict[str, Any]], kind: str
) -> None:
    terms, paths = concrete_metrics()[f"route_counts[{kind}]"]
    matched = {name for name, e in unfinished_entries.items() if matches(e, terms)}
    expected = {name for name, e in unfinished_entries.items() if e["jsonPayload"].get("outcomes", {}).get(kind)}
    assert matched == expected and matched, (kind, matched)
    for name in matched:
        value = lookup(unfinished_entries[name], paths["value"])
        assert isinstance(value, int) and value > 0, (name, value)


def test_the_not_restorable_metric_finds_its_field(unfinished_entries: dict[str, dict[str, Any]]) -> None:
    terms, paths = concrete_metrics()["route_counts[not_restorable]"]
    assert paths["value"] == "jsonPayload.notRestorable"
    present = [e for e in unfinished_entries.values() if lookup(e, "jsonPayload.notRestorable") is not None]
    assert present, "no summary line carries notRestorable"
    assert all(isinstance(lookup(e, paths["value"]), int) for e in present)
    assert not any(matches(e, terms) for e in present if lookup(e, "jsonPayload.notRestorable") == 0)


def test_the_filter_check_can_fail() -> None:
    entry = as_log_entry({"httpRequest": {"status": 207}, "outcome": "partial", "outcomes": {"protected": 2}})
    assert matches(entry, ["httpRequest.status:*", 'jsonPayload.outcome="partial"', "jsonPayload.outcomes.protected>0"])
    assert not matches(entry, ['jsonPayload.outcome="failed"'])
    assert not matches(entry, ["jsonPayload.outcomes.unknown>0"])
    assert not matches(entry, ["jsonPayload.deletedCount:*"])


def test_upstream_stages_are_the_ones_the_function_counts(entries: list[dict[str, Any]]) -> None:
    declared = json.loads(unwrap(monitoring_tf()["locals"][0]["upstream_stages"]).replace("'", '"'))
    assert set(declared) == stages_in_code() == {"secret", "token", "query", "delete"}
    seen = {stage for e in entries for stage in e["jsonPayload"].get("upstreamCalls", {})}
    assert seen == set(declared)


def test_every_extractor_finds_its_field_in_a_summary_line(entries: list[dict[str, Any]]) -> None:
    """The metrics over every request (the route-count metrics are checked on requests
    that leave routes behind, above)."""
    bodies = metric_bodies()
    assert set(bodies) == {"requests", "deleted_routes", "duration", "upstream_calls", "unfinished", "route_counts"}
    for name, (terms, paths) in concrete_metrics().items():
        if name.startswith(("unfinished[", "route_counts[")):
            continue
        assert any(matches(e, terms) for e in entries), name
        for label, concrete in paths.items():
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
