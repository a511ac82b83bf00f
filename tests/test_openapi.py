"""/openapi.json: a valid OpenAPI 3.1 document that the real answers conform to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from cec_sim import SimulatorControl


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def test_document_is_valid_openapi_31(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/", "/healthz", "/openapi.json"}
    assert set(document["components"]["schemas"]) >= {
        "DeleteRequest",
        "DeleteResult",
        "DryRunResult",
        "Problem",
        "BatchResult",
        "RouteResult",
    }


def _validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_request_schema_matches_the_parser(document: dict[str, Any]) -> None:
    validator = _validator(document, "DeleteRequest")
    good_bodies = (
        {"dnids": "1,2"},
        {"dnids": " 1 , 2 "},
        {"dnids": [1, "2"]},
        {"ids": ["1127983948544239618"], "dryRun": True},
        {"routes": [{"accessCode": "9911411", "extCode": ""}]},
    )
    for good in good_bodies:
        assert validator.is_valid(good), good
    bad_bodies = (
        {"dnids": ""},
        {"dnids": []},
        {"dnids": [1.5]},
        {"dnids": "1,,2"},
        {"dnids": "1", "x": 1},
        {},
        {"dnids": "1", "ids": "1127983948544239618"},
        {"routes": [{"extCode": "1"}]},
        {"dnids": "1", "dryRun": "yes"},
    )
    for bad in bad_bodies:
        assert not validator.is_valid(bad), bad


def test_answers_conform_to_their_schemas(
    document: dict[str, Any], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    operation = document["paths"]["/"]["post"]["responses"]
    cases = [
        post({"dnids": "1,2"}),
        post({"dnids": "5,6"}),
        post({"dnids": "7"}),
        post({"dnids": "x"}),
        post({}, key="bad"),
        post({"routes": [{"accessCode": "9911411"}], "dryRun": True}),
        post({"ids": ["1127986019188238343"]}),
        post({"dnids": "8"}, headers={"Idempotency-Key": "a"}),
        post({"dnids": "9"}, headers={"Idempotency-Key": "a"}),
    ]
    sim.inject({"stage": "delete", "status": 503, "times": 10})
    cases.append(post({"dnids": "10"}))
    assert [c.status_code for c in cases] == [200, 207, 422, 400, 401, 200, 422, 200, 422, 503]
    for response in cases:
        declared = operation[str(response.status_code)]
        media_type = response.headers["Content-Type"]
        schema = declared["content"][media_type]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(
            response.get_json(force=True)
        )


def test_plan_tokens_and_policies_are_documented_and_answers_conform(
    client: FlaskClient, env: Callable[..., None], post: Callable[..., Any], sim: SimulatorControl
) -> None:
    env(
        PLAN_SIGNING_KEYS="k" * 40,
        PROTECTED_ACCESS_CODES="99114111",
        CALLER_POLICIES='{"api_key:key-4b3ba27e64f1": {"accessCodes": ["9911411", "4008*"]}, "*": {}}',
    )
    document: dict[str, Any] = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert {"planToken", "planTtlSeconds"} <= set(schemas["DeleteRequest"]["properties"])
    assert {"planToken", "planId", "planExpiresAt"} <= set(schemas["DryRunResult"]["properties"])
    assert "changed" in schemas["RouteResult"]["properties"]["outcome"]["enum"]
    assert {"forbidden", "plan_invalid", "plan_expired", "plan_wrong_caller"} <= set(
        schemas["Problem"]["properties"]["code"]["examples"]
    )
    assert _validator(document, "DeleteRequest").is_valid({"planToken": "p1.a.b.c"})
    assert not _validator(document, "DeleteRequest").is_valid({"planToken": "p1.a.b.c", "dnids": "1"})

    operation = document["paths"]["/"]["post"]["responses"]
    preview = post({"dnids": "1,2,4", "dryRun": True})
    token = preview.get_json()["planToken"]
    sim.update_route(2, deviceId=9)  # modified in place: the plan's route 2 has changed
    sim.add_routes(1, 700, access_code="7700")  # outside the caller's accessCodes
    cases = [
        preview,
        post({"planToken": token}),
        post({"planToken": token[:-3]}),
        post({"dnids": "700"}),
    ]
    assert [c.status_code for c in cases] == [200, 207, 400, 403]
    # The protected route (dnid 4) is shown in the preview but not put in the token.
    assert [p["deletable"] for p in preview.get_json()["plan"]] == [True, True, False]
    assert {r["dnid"]: r["outcome"] for r in cases[1].get_json()["results"]} == {"1": "deleted", "2": "changed"}
    assert [c.get_json().get("code") for c in cases[2:]] == ["plan_invalid", "forbidden"]
    for response in cases:
        schema = operation[str(response.status_code)]["content"][response.headers["Content-Type"]]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(
            response.get_json(force=True)
        )
