"""The committed contract files are what the models generate; the connector is sound."""

from __future__ import annotations

import json
from typing import Any

from openapi_spec_validator import validate

from function.edge.openapi.files import contract_files
from tests.conftest import ROOT

CONNECTOR = ROOT / "connectors" / "power-automate"


def test_committed_files_match_the_models() -> None:
    stale = [path for path, content in contract_files().items() if (ROOT / path).read_bytes() != content]
    assert stale == [], f"stale: {stale}; run .venv/bin/python scripts/write_api_docs.py"


def _definition() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text())
    return data


def test_connector_definition_is_swagger_20_with_the_api_key_scheme() -> None:
    doc = _definition()
    validate(doc)  # openapi-spec-validator's Swagger 2.0 schema
    assert doc["swagger"] == "2.0" and doc["host"] and doc["schemes"] == ["https"]
    assert doc["securityDefinitions"] == {"api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    actions = {path: item["post"] for path, item in doc["paths"].items() if "post" in item}
    assert {path: (op["operationId"], op["x-ms-visibility"]) for path, op in actions.items()} == {
        "/preview": ("PreviewDeletion", "important"),
        "/apply": ("ApplyPlan", "important"),
        "/": ("DeleteCalledRoutes", "advanced"),
    }
    assert all(op["security"] == [{"api_key": []}] for op in actions.values())
    assert set(doc["paths"]) == {*actions, "/healthz"}
    assert doc["paths"]["/healthz"]["get"]["x-ms-visibility"] == "internal"


def test_connector_actions_take_and_return_what_an_approval_flow_needs() -> None:
    doc = _definition()
    preview, apply = doc["paths"]["/preview"]["post"], doc["paths"]["/apply"]["post"]
    assert [p["schema"]["$ref"] for p in preview["parameters"]] == ["#/definitions/PreviewRequest"]
    preview_fields = doc["definitions"]["PreviewRequest"]["properties"]
    assert "planToken" not in preview_fields and preview_fields["dryRun"]["x-ms-visibility"] == "internal"
    assert preview["responses"]["200"]["schema"] == {"$ref": "#/definitions/DryRunResult"}
    planned = doc["definitions"]["DryRunResult"]["properties"]
    assert {"planToken", "planId", "planExpiresAt"} <= set(planned)
    (body,) = [p for p in apply["parameters"] if p["in"] == "body"]
    assert body["schema"] == {"$ref": "#/definitions/ApplyRequest"}
    apply_request = doc["definitions"]["ApplyRequest"]
    assert apply_request["required"] == ["planToken"] and set(apply_request["properties"]) == {"planToken"}
    assert apply_request["properties"]["planToken"]["x-ms-visibility"] == "important"


def _untyped(schema: Any, where: str) -> list[str]:
    found = []
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            if "type" not in sub and "$ref" not in sub:
                found.append(f"{where}/{name}")
        for key, value in schema.items():
            found += _untyped(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _untyped(value, f"{where}/{index}")
    return found


def test_every_field_a_flow_reads_is_typed() -> None:
    doc = _definition()
    assert _untyped(doc, "") == []
    for path in ("/", "/apply"):
        status = doc["paths"][path]["post"]["responses"]["422"]["schema"]["properties"]["status"]
        assert status["type"] == "string"


def test_a_flow_author_sees_labelled_fields() -> None:
    doc = _definition()
    request = doc["definitions"]["DeleteRequest"]["properties"]
    assert {name: (p["x-ms-summary"], p.get("x-ms-visibility")) for name, p in request.items()} == {
        "dnids": ("Dnids", "important"),
        "ids": ("Record ids", "advanced"),
        "routes": ("Hotlines", "advanced"),
        "dryRun": ("Dry run (delete nothing)", "important"),
        "planToken": ("Plan token (from an approved dry run)", "advanced"),
        "planTtlSeconds": ("Plan token lifetime (seconds)", "advanced"),
    }
    (header,) = [p for p in doc["paths"]["/"]["post"]["parameters"] if p["in"] == "header"]
    assert header["x-ms-visibility"] == "advanced" and header["required"] is False
    assert doc["definitions"]["Problem"]["properties"]["code"]["x-ms-summary"] == "Problem code"
    # Swagger 2.0 has one type per field: dnids is offered as the API's own string.
    assert request["dnids"]["type"] == "string"


def test_connector_properties_ask_for_the_key_as_a_secure_string() -> None:
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())["properties"]
    key = properties["connectionParameters"]["api_key"]
    assert key["type"] == "securestring" and key["uiDefinition"]["constraints"]["required"] == "true"
    assert properties["iconBrandColor"].startswith("#")
