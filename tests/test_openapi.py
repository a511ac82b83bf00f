"""The served OpenAPI documents: valid, shaped for generators, and true to the answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from cec_sim import SimulatorControl
from function.edge import handler
from function.edge.openapi import document as openapi
from function.errors import FunctionError
from function.models import SELECTOR_ALIASES, DeleteRequest

VERSIONS = {"/openapi.json": "3.1.0", "/openapi-3.0.json": "3.0.3", "/swagger.json": "2.0"}


def _get(client: FlaskClient, path: str, **headers: str) -> dict[str, Any]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    return _get(client, "/openapi.json")


@pytest.fixture
def documents(client: FlaskClient) -> dict[str, dict[str, Any]]:
    return {path: _get(client, path) for path in VERSIONS}


def test_three_valid_documents_are_served(documents: dict[str, dict[str, Any]]) -> None:
    for path, version in VERSIONS.items():
        doc = documents[path]
        validate(doc)
        assert doc.get("openapi", doc.get("swagger")) == version
        assert set(doc["paths"]) == {"/", "/preview", "/apply", "/healthz", *VERSIONS}
    assert handler._DOCUMENTS == openapi.PATHS  # the router and the builder agree


def test_the_schemas_offer_no_null(documents: dict[str, dict[str, Any]]) -> None:
    # The function never sends null (answers exclude None fields).
    for doc in documents.values():
        text = json.dumps(doc)
        assert '"null"' not in text and '"nullable"' not in text and '"default": null' not in text


def test_open_get_routes_need_no_credential_and_post_does(documents: dict[str, dict[str, Any]]) -> None:
    for doc in documents.values():
        for path, item in doc["paths"].items():
            for method, operation in item.items():
                assert operation["operationId"] and operation["summary"]
                if method == "get":
                    assert operation["security"] == [], path
        assert {"apiKey": []} in doc["paths"]["/"]["post"]["security"]
        assert doc["info"]["license"]["name"]


def test_servers_come_from_public_url(client: FlaskClient, env: Callable[..., None]) -> None:
    env(PUBLIC_URL="https://cec.example.com/fn/")
    assert _get(client, "/openapi.json")["servers"] == [{"url": "https://cec.example.com/fn"}]
    swagger = _get(client, "/swagger.json")
    assert (swagger["host"], swagger["basePath"], swagger["schemes"]) == ("cec.example.com", "/fn", ["https"])


def test_servers_default_to_the_host_the_request_reached(client: FlaskClient) -> None:
    doc = _get(client, "/openapi-3.0.json", Host="fn-abc.a.run.app", **{"X-Forwarded-Proto": "https"})
    assert doc["servers"] == [{"url": "https://fn-abc.a.run.app"}]
    assert _get(client, "/openapi.json", Host="127.0.0.1:8080")["servers"] == [{"url": "http://127.0.0.1:8080"}]
    # A Host header that is not a host name is not echoed into the document.
    odd = _get(client, "/openapi.json", Host="evil.example/<script>")
    assert "servers" not in odd


def test_documents_are_served_by_a_misconfigured_function(client: FlaskClient, env: Callable[..., None]) -> None:
    env(CALLER_AUTH=None, MAX_DNIDS="not a number")
    with pytest.raises(FunctionError):
        handler.get_settings()
    assert _get(client, "/swagger.json")["swagger"] == "2.0"
    assert client.post("/openapi-3.0.json").status_code == 405


def test_idempotency_header_is_optional_and_has_no_reusable_example(documents: dict[str, dict[str, Any]]) -> None:
    for doc in documents.values():
        (header,) = [p for p in doc["paths"]["/"]["post"]["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and header["required"] is False
        assert "example" not in json.dumps(header) and "fresh" in header["description"]


def _validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


def _valid_request(validator: jsonschema.Draft202012Validator, schema: dict[str, Any], body: Any) -> bool:
    """The schema plus its documented x-exactly-one-of rule."""
    if not validator.is_valid(body):
        return False
    given = [name for name in schema["x-exactly-one-of"] if name in body]
    return len(given) == 1


def test_request_schema_and_its_one_selector_rule_match_the_parser(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["DeleteRequest"]
    assert schema["x-exactly-one-of"] == list(SELECTOR_ALIASES)
    assert "oneOf" not in schema and "anyOf" not in schema  # generators keep one whole object
    validator = _validator(document, "DeleteRequest")
    good_bodies = (
        {"dnids": "1,2"},
        {"dnids": " 1 , 2 "},
        {"dnids": [1, 2]},
        {"dnids": ["1", "2"]},
        {"ids": ["1127983948544239618"], "dryRun": True},
        {"ids": "1127983948544239618"},
        {"routes": [{"accessCode": "9911411", "extCode": ""}]},
    )
    for good in good_bodies:
        assert _valid_request(validator, schema, good), good
        DeleteRequest.model_validate(good)
    bad_bodies = (
        {"dnids": ""},
        {"dnids": []},
        {"dnids": [1.5]},
        {"dnids": "1,,2"},
        {"dnids": "1", "x": 1},
        {},
        {"dryRun": True},
        {"dnids": "1", "ids": "1127983948544239618"},
        {"routes": [{"extCode": "1"}]},
        {"dnids": "1", "dryRun": "yes"},
    )
    for bad in bad_bodies:
        assert not _valid_request(validator, schema, bad), bad
        with pytest.raises(ValueError):
            DeleteRequest.model_validate(bad)


@pytest.fixture
def answers(post: Callable[..., Any], sim: SimulatorControl) -> Iterator[list[Any]]:
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
    yield cases


def test_answers_conform_to_the_31_and_30_documents(answers: list[Any], documents: dict[str, Any]) -> None:
    for path in ("/openapi.json", "/openapi-3.0.json"):
        doc = documents[path]
        operation = doc["paths"]["/"]["post"]["responses"]
        for response in answers:
            declared = operation[str(response.status_code)]
            schema = declared["content"][response.headers["Content-Type"]]["schema"]
            jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(
                response.get_json(force=True)
            )


def test_answers_conform_to_the_swagger_20_document(answers: list[Any], documents: dict[str, Any]) -> None:
    doc = documents["/swagger.json"]
    operation = doc["paths"]["/"]["post"]
    for response in answers:
        assert response.headers["Content-Type"] in operation["produces"]
        schema = operation["responses"][str(response.status_code)]["schema"]
        validator = jsonschema.Draft4Validator({**schema, "definitions": doc["definitions"]})
        validator.validate(response.get_json(force=True))


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
    request_schema = schemas["DeleteRequest"]
    assert "planToken" in request_schema["x-exactly-one-of"]
    assert _valid_request(_validator(document, "DeleteRequest"), request_schema, {"planToken": "p1.a.b.c"})
    assert not _valid_request(
        _validator(document, "DeleteRequest"), request_schema, {"planToken": "p1.a.b.c", "dnids": "1"}
    )

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
