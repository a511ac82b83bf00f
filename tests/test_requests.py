"""The HTTP contract for bad requests: clear problem details, and never an upstream call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import SimulatorControl
from function import __version__
from tests.conftest import API_KEY

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "retryable", "requestId"}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(":" + code)
    assert body["requestId"] == response.headers["X-Request-Id"]
    return dict(body)


@pytest.mark.parametrize(
    ("body", "pointer", "fragment"),
    [
        ({"dnids": ""}, "/dnids", "is empty"),
        ({"dnids": []}, "/dnids", "empty list"),
        ({"dnids": "1,,2"}, "/dnids", "item 2 of the comma-separated string is empty"),
        ({"dnids": "1,-2"}, "/dnids", "not a positive decimal integer"),
        ({"dnids": [1, 2.5]}, "/dnids/1", "fraction"),
        ({"dnids": [1, True]}, "/dnids/1", "boolean"),
        ({"dnids": [[1]]}, "/dnids/0", "nested"),
        ({"dnids": "1127983948544239618"}, "/dnids", "called-route id, not a dnid"),
        ({"dnids": "1", "force": True}, "/force", "unknown field"),
        ({}, "", "give exactly one of dnids, ids, routes or planToken"),
        ({"dnids": "1", "routes": [{"accessCode": "1"}]}, "", "this body has dnids, routes"),
        ({"dnids": "1", "dryRun": "yes"}, "/dryRun", "boolean"),
        ({"dnids": "1", "dry_run": True}, "/dry_run", "unknown field"),
        ({"ids": ["42"]}, "/ids/0", "looks like a dnid"),
        ({"ids": "abc"}, "/ids", "not a record id"),
        ({"routes": []}, "/routes", "at least 1"),
        ({"routes": [{"extCode": "1"}]}, "/routes/0/accessCode", "is required"),
        ({"routes": [{"accessCode": "9911411", "ext": "1"}]}, "/routes/0/ext", "unknown field"),
        ({"routes": [{"accessCode": ""}]}, "/routes/0/accessCode", "at least 1"),
        ({"routes": "9911411"}, "/routes", "valid list"),
        ([1, 2], "", "must be a JSON object"),
        ("1,2", "", "must be a JSON object"),
        (None, "", "must be a JSON object"),
    ],
)
def test_invalid_bodies_are_400_naming_the_entry(
    post: Callable[..., Any], sim: SimulatorControl, body: Any, pointer: str, fragment: str
) -> None:
    problem = assert_problem(post(body), 400, "invalid_request")
    assert problem["retryable"] is False
    assert any(e["pointer"] == pointer and fragment in e["detail"] for e in problem["errors"]), problem
    assert sim.calls() == []


def test_too_many_dnids(post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl) -> None:
    env(MAX_DNIDS="5")
    problem = assert_problem(post({"dnids": list(range(1, 7))}), 400, "invalid_request")
    assert "at most 5" in problem["errors"][0]["detail"]
    assert sim.calls() == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"dnids": "1"', "not valid JSON"),
        (b"", "empty"),
        (b'{"dnids": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    ],
)
def test_malformed_json_is_400(client: FlaskClient, sim: SimulatorControl, raw: bytes, fragment: str) -> None:
    response = client.post("/", data=raw, content_type="application/json", headers={"X-API-Key": API_KEY})
    problem = assert_problem(response, 400, "malformed_json")
    assert fragment in problem["detail"]
    assert sim.calls() == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", None],
)
def test_non_json_content_types_are_415(client: FlaskClient, sim: SimulatorControl, content_type: str | None) -> None:
    headers = {"X-API-Key": API_KEY}
    response = client.post("/", data=b'{"dnids": "1"}', headers=headers, content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")
    assert sim.calls() == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
def test_json_content_types_with_charset_are_accepted(client: FlaskClient, content_type: str) -> None:
    response = client.post("/", data=b'{"dnids": "1"}', headers={"X-API-Key": API_KEY}, content_type=content_type)
    assert response.status_code == 200


def test_body_over_one_mebibyte_is_413(client: FlaskClient, sim: SimulatorControl) -> None:
    body = json.dumps({"dnids": "1," * 600000 + "1"}).encode()
    assert len(body) > 1024 * 1024
    response = client.post("/", data=body, content_type="application/json", headers={"X-API-Key": API_KEY})
    assert_problem(response, 413, "payload_too_large")
    assert sim.calls() == []


def test_413_is_checked_before_authentication(client: FlaskClient) -> None:
    response = client.post("/", data=b"x" * (1024 * 1024 + 1), content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_on_root_are_405_with_allow(client: FlaskClient, method: str) -> None:
    response = client.open("/", method=method)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


def test_unknown_paths_and_framework_paths_are_json_404(client: FlaskClient) -> None:
    for path in ("/nope", "/robots.txt", "/favicon.ico"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.get_json(force=True)["code"] == "not_found"


def test_healthz_makes_no_upstream_call(client: FlaskClient, sim: SimulatorControl) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "configured": True, "version": __version__}
    assert sim.calls() == []


def test_request_id_is_echoed_when_well_formed(post: Callable[..., Any]) -> None:
    response = post({"dnids": "1"}, headers={"X-Request-Id": "wf-run-42"})
    assert response.headers["X-Request-Id"] == "wf-run-42"
    assert response.get_json()["requestId"] == "wf-run-42"
    other = post({"dnids": "2"}, headers={"X-Request-Id": "bad id with spaces"})
    assert other.headers["X-Request-Id"] != "bad id with spaces"
    assert len(other.headers["X-Request-Id"]) == 32
