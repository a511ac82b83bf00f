"""OpenAPI 3.1 -> 3.0.3 -> Swagger 2.0, for the shapes this function's document uses.

No maintained converter is exact here: @apiture/openapi-down-convert keeps
``{"type": "null"}`` branches that 3.0 validators reject, and api-spec-converter refuses
3.1 and drops every anyOf/oneOf going to 2.0. This one is small because the source is
ours: it maps what the models generate and raises UnsupportedSchema on anything else, so
a new model feature fails the build (tests/test_openapi_convert.py) instead of yielding a
document that some consumer silently misreads.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit


class UnsupportedSchema(ValueError):
    """The 3.1 document uses a keyword this converter does not know how to map."""


# Schema keywords 3.0 and 3.1 share with the same meaning (3.0's Schema Object).
_COMMON = {
    "title", "multipleOf", "maximum", "minimum", "maxLength", "minLength", "pattern", "maxItems",
    "minItems", "uniqueItems", "maxProperties", "minProperties", "required", "enum", "type", "allOf",
    "oneOf", "anyOf", "not", "items", "properties", "additionalProperties", "description", "format",
    "default", "readOnly", "writeOnly", "deprecated", "$ref",
}  # fmt: skip
# What Swagger 2.0's Schema Object keeps of 3.0's.
_SWAGGER_SCHEMA = _COMMON - {"oneOf", "anyOf", "not", "writeOnly", "deprecated"} | {"example"}
_SWAGGER_PARAMETER = {"type", "format", "maxLength", "minLength", "pattern", "maximum", "minimum", "enum", "items"}


def schema_30(schema: Any) -> Any:
    """One JSON Schema 2020-12 schema (as pydantic writes it) as a 3.0 Schema Object."""
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"a schema must be an object, not {schema!r}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-"):
            out[key] = copy.deepcopy(value)
        elif key == "const":
            out["enum"] = [value]
        elif key == "examples":
            # 3.0 has a single example per schema.
            out["example"] = copy.deepcopy(value[0])
        elif key in ("properties",):
            out[key] = {name: schema_30(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = schema_30(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            if any(branch == {"type": "null"} for branch in value):
                raise UnsupportedSchema(f"{key} with a null branch: the documents promise no null")
            out[key] = [schema_30(branch) for branch in value]
        elif key == "type" and not isinstance(value, str):
            raise UnsupportedSchema(f"type must be one name in 3.0, not {value!r}")
        elif key in _COMMON:
            out[key] = copy.deepcopy(value)
        else:
            raise UnsupportedSchema(f"no 3.0 equivalent for the keyword {key!r}")
    if "$ref" in out and len(out) > 1:
        # 3.0 ignores siblings of $ref; keep the reference, which carries the meaning.
        out = {"$ref": out["$ref"]}
    return out


def _media_30(media: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(media)
    if "schema" in media:
        out["schema"] = schema_30(media["schema"])
    return out


def _content_30(holder: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(holder)
    if "content" in holder:
        out["content"] = {name: _media_30(media) for name, media in holder["content"].items()}
    if "schema" in holder:
        out["schema"] = schema_30(holder["schema"])
    for name, header in holder.get("headers", {}).items():
        out["headers"][name] = _content_30(header)
    return out


def to_openapi_30(doc: dict[str, Any]) -> dict[str, Any]:
    """The 3.1 document as OpenAPI 3.0.3."""
    if set(doc) - {"openapi", "info", "servers", "tags", "paths", "components", "security", "externalDocs"}:
        raise UnsupportedSchema(f"top-level fields without a 3.0 equivalent: {sorted(set(doc))}")
    info = copy.deepcopy(doc["info"])
    if "identifier" in info.get("license", {}):
        raise UnsupportedSchema("license.identifier is 3.1 only; give license.url")
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        paths[path] = {}
        for method, operation in item.items():
            op = copy.deepcopy(operation)
            op["parameters"] = [_content_30(p) for p in operation.get("parameters", [])]
            if not op["parameters"]:
                del op["parameters"]
            if "requestBody" in operation:
                op["requestBody"] = _content_30(operation["requestBody"])
            op["responses"] = {code: _content_30(r) for code, r in operation["responses"].items()}
            paths[path][method] = op
    components = copy.deepcopy(doc.get("components", {}))
    components["schemas"] = {name: schema_30(s) for name, s in components.get("schemas", {}).items()}
    out = {**copy.deepcopy(doc), "openapi": "3.0.3", "info": info, "paths": paths, "components": components}
    return out


def swagger_host(server_url: str) -> dict[str, Any]:
    """host, basePath and schemes of Swagger 2.0 from an absolute server URL."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {server_url!r}")
    return {"host": parts.netloc, "basePath": parts.path.rstrip("/") or "/", "schemes": [parts.scheme]}


def _ref_20(ref: str) -> str:
    return ref.replace("#/components/schemas/", "#/definitions/")


def schema_20(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A 3.0 Schema Object as a Swagger 2.0 one.

    2.0 has no anyOf/oneOf: a choice between object schemas becomes one object with
    every branch's properties (required: those all branches require); a choice between
    other shapes keeps the first branch, and the description says what else is accepted.
    """
    if "$ref" in schema:
        return {"$ref": _ref_20(schema["$ref"])}
    choice = schema.get("oneOf") or schema.get("anyOf")
    rest = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
    if choice:
        branches = [schemas[b["$ref"].rsplit("/", 1)[1]] if "$ref" in b else b for b in choice]
        if all(b.get("type") == "object" for b in branches):
            merged = _union_object(branches, [b.get("$ref", "").rsplit("/", 1)[-1] for b in choice])
        else:
            merged = dict(branches[0])
            others = "; ".join(_shape(b) for b in branches[1:])
            note = f"(Swagger 2.0 shows one form; the function also accepts: {others}.)"
            rest["description"] = (rest.get("description", "") + " " + note).strip()
        return schema_20({**merged, **rest}, schemas)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: schema_20(sub, schemas) for name, sub in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = schema_20(value, schemas)
        elif key.startswith("x-") or key in _SWAGGER_SCHEMA:
            out[key] = copy.deepcopy(value)
        elif key == "writeOnly":
            continue  # only on request fields, which 2.0 has no other way to mark
        else:
            raise UnsupportedSchema(f"no Swagger 2.0 equivalent for the keyword {key!r}")
    return out


def _union_object(branches: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for branch in branches:
        for name, sub in branch.get("properties", {}).items():
            known = properties.get(name)
            if known is None or known == sub:
                properties[name] = sub
            elif "enum" in known and "enum" in sub and known.get("type") == sub.get("type"):
                # status: "deleted" in one branch, "planned" in the other.
                properties[name] = {**known, "enum": list(dict.fromkeys(known["enum"] + sub["enum"]))}
            elif known.get("type") != sub.get("type") or "$ref" in known or "$ref" in sub:
                # status: a string in a result, an integer in a problem: 2.0 cannot say
                # "one or the other", so this field is left untyped.
                properties[name] = {"description": "Differs by shape; see the definitions named above."}
    required = set.intersection(*(set(b.get("required", [])) for b in branches))
    label = " or ".join(n for n in names if n) or "one of several objects"
    union: dict[str, Any] = {
        "type": "object",
        "description": f"{label} (Swagger 2.0 has no oneOf: the fields of each, see their definitions).",
        "properties": properties,
    }
    if required:
        union["required"] = sorted(required)
    return union


def _shape(schema: dict[str, Any]) -> str:
    if schema.get("type") == "array":
        return "a list of " + " or ".join(_shape(i) for i in schema["items"].get("anyOf", [schema["items"]]))
    example = f" (e.g. {schema['example']!r})" if "example" in schema else ""
    return str(schema.get("type", "a value")) + example


def _parameter_20(parameter: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in parameter.items() if k in ("name", "in", "required", "description") or k.startswith("x-")}
    for key, value in parameter["schema"].items():
        if key not in _SWAGGER_PARAMETER:
            raise UnsupportedSchema(f"no Swagger 2.0 parameter equivalent for {key!r}")
        out[key] = copy.deepcopy(value)
    return out


def _response_20(response: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": response["description"]}
    content = response.get("content", {})
    with_schema = [m for m in content.values() if "schema" in m]
    if with_schema:
        distinct = [m["schema"] for m in with_schema]
        schema = distinct[0] if all(s == distinct[0] for s in distinct) else {"oneOf": distinct}
        out["schema"] = schema_20(schema, schemas)
    examples = {
        media_type: next(iter(media["examples"].values()))["value"]
        for media_type, media in content.items()
        if media.get("examples")
    }
    if examples:
        out["examples"] = examples
    if "headers" in response:
        out["headers"] = {
            name: {"description": h.get("description", name), **h["schema"]} for name, h in response["headers"].items()
        }
    return out


def to_swagger_20(doc: dict[str, Any]) -> dict[str, Any]:
    """The 3.0 document as Swagger 2.0 (what Power Automate and Power Apps import)."""
    schemas = doc["components"]["schemas"]
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        paths[path] = {}
        for method, operation in item.items():
            op = {k: copy.deepcopy(v) for k, v in operation.items() if k not in ("parameters", "requestBody")}
            del op["responses"]
            parameters = [_parameter_20(p) for p in operation.get("parameters", [])]
            if "requestBody" in operation:
                body = operation["requestBody"]
                (media_type, media), *more = body["content"].items()
                if more:
                    raise UnsupportedSchema("a request body with several media types")
                op["consumes"] = [media_type]
                # Named after the schema, as 3.0 generators name the argument (delete_request).
                ref = media["schema"].get("$ref", "#/body")
                name = ref.rsplit("/", 1)[1][:1].lower() + ref.rsplit("/", 1)[1][1:]
                parameter = {"name": name, "in": "body", "required": body.get("required", False)}
                parameter["schema"] = schema_20(media["schema"], schemas)
                if media.get("examples"):
                    parameter["x-examples"] = copy.deepcopy(media["examples"])
                parameters.append(parameter)
            if parameters:
                op["parameters"] = parameters
            produces = [m for r in operation["responses"].values() for m in r.get("content", {})]
            op["produces"] = list(dict.fromkeys(produces))
            op["responses"] = {code: _response_20(r, schemas) for code, r in operation["responses"].items()}
            paths[path][method] = op
    out: dict[str, Any] = {"swagger": "2.0", "info": copy.deepcopy(doc["info"])}
    if doc.get("servers"):
        out.update(swagger_host(doc["servers"][0]["url"]))
    if "tags" in doc:
        out["tags"] = copy.deepcopy(doc["tags"])
    out["paths"] = paths
    out["definitions"] = {name: schema_20(s, schemas) for name, s in schemas.items()}
    out["securityDefinitions"] = copy.deepcopy(doc["components"].get("securitySchemes", {}))
    return out
