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
