"""The 3.1 -> 3.0 -> 2.0 converter (function/edge/openapi/convert.py), rule by rule."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from function.edge.openapi.convert import (
    UnsupportedSchema,
    schema_20,
    schema_30,
    swagger_host,
    to_openapi_30,
    to_swagger_20,
)


def test_31_keywords_become_their_30_forms() -> None:
    assert schema_30({"const": "ok", "type": "string"}) == {"enum": ["ok"], "type": "string"}
    assert schema_30({"type": "string", "examples": ["1,2", "3"]}) == {"type": "string", "example": "1,2"}
    assert schema_30({"$ref": "#/components/schemas/A", "description": "d"}) == {"$ref": "#/components/schemas/A"}
    nested = schema_30({"type": "object", "properties": {"a": {"anyOf": [{"const": 1}, {"type": "string"}]}}})
    assert nested["properties"]["a"]["anyOf"] == [{"enum": [1]}, {"type": "string"}]
    assert schema_30({"type": "object", "x-exactly-one-of": ["a"]})["x-exactly-one-of"] == ["a"]


@pytest.mark.parametrize(
    "schema",
    [
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"type": ["string", "null"]},
        {"prefixItems": [{"type": "string"}]},
        {"type": "object", "properties": {"a": {"$defs": {}}}},
        "not a schema",
    ],
)
def test_what_30_cannot_say_is_refused_not_dropped(schema: Any) -> None:
    with pytest.raises(UnsupportedSchema):
        schema_30(schema)


def test_a_choice_of_shapes_keeps_the_first_and_says_what_else_is_accepted() -> None:
    choice = {
        "description": "The dnids.",
        "anyOf": [
            {"type": "string", "example": "1,2"},
            {"type": "array", "items": {"type": "integer"}},
        ],
    }
    out = schema_20(choice, {})
    assert out["type"] == "string" and out["example"] == "1,2"
    assert out["description"].startswith("The dnids.") and "a list of integer" in out["description"]


def test_a_choice_of_objects_becomes_one_object_with_every_field() -> None:
    schemas = {
        "A": {"type": "object", "properties": {"status": {"type": "string", "enum": ["a"]}, "x": {"type": "string"}},
              "required": ["status", "x"]},
        "B": {"type": "object", "properties": {"status": {"type": "string", "enum": ["b"]}, "y": {"type": "integer"}},
              "required": ["status"]},
        "P": {"type": "object", "properties": {"status": {"type": "integer"}}, "required": ["status"]},
    }  # fmt: skip
    union = schema_20({"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]}, schemas)
    assert union["properties"]["status"]["enum"] == ["a", "b"]
    assert set(union["properties"]) == {"status", "x", "y"} and union["required"] == ["status"]
    assert "A or B" in union["description"]
    mixed = schema_20({"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/P"}]}, schemas)
    assert "type" not in mixed["properties"]["status"]  # a string or an integer: left untyped


def test_swagger_host_from_a_server_url() -> None:
    expected = {"host": "h.example:8443", "basePath": "/a/b", "schemes": ["https"]}
    assert swagger_host("https://h.example:8443/a/b/") == expected
    assert swagger_host("http://127.0.0.1:8080")["basePath"] == "/"
    with pytest.raises(ValueError):
        swagger_host("/relative")


def test_a_small_document_goes_down_both_steps_and_stays_valid() -> None:
    doc31 = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "license": {"name": "x"}},
        "servers": [{"url": "https://h.example/base"}],
        "paths": {
            "/": {
                "post": {
                    "operationId": "op",
                    "parameters": [
                        {"name": "K", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 9}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/R"},
                                                         "examples": {"one": {"value": {"a": "1"}}}}},
                    },
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/R"}}},
                        },
                        "503": {"description": "later", "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                    },
                }
            }
        },
        "components": {"schemas": {"R": {"type": "object", "properties": {"a": {"const": "1"}}}}},
    }  # fmt: skip
    doc30 = to_openapi_30(doc31)
    validate(doc30)
    assert doc30["openapi"] == "3.0.3" and doc30["components"]["schemas"]["R"]["properties"]["a"] == {"enum": ["1"]}
    doc20 = to_swagger_20(doc30)
    validate(doc20)
    post = doc20["paths"]["/"]["post"]
    assert (doc20["host"], doc20["basePath"]) == ("h.example", "/base")
    assert post["consumes"] == ["application/json"]
    assert post["parameters"][0] == {"name": "K", "in": "header", "required": False, "type": "string", "maxLength": 9}
    assert post["parameters"][1]["schema"] == {"$ref": "#/definitions/R"}
    assert post["responses"]["503"]["headers"]["Retry-After"]["type"] == "integer"
    with pytest.raises(UnsupportedSchema):
        to_openapi_30({**doc31, "webhooks": {}})
