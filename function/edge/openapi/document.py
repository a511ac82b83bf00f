"""The OpenAPI documents of this function, generated from the pydantic models.

One source, three documents: 3.1 (``/openapi.json``) is built here; 3.0.3
(``/openapi-3.0.json``) and Swagger 2.0 (``/swagger.json``) are derived from it by
function/edge/openapi/convert.py. The same builders write docs/api/ and the Power Automate
connector (scripts/write_api_docs.py), and a test keeps those files in sync.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any, Literal

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, NoDefault, models_json_schema
from pydantic_core import core_schema

from function import __version__
from function.edge.openapi import examples as ex
from function.models import DeleteRequest, DeleteResult, DryRunResult, Problem

TITLE = "CEC deleteCalledRoute function"
VERSION = __version__
Version = Literal["3.1", "3.0", "2.0"]
PATHS: dict[str, Version] = {"/openapi.json": "3.1", "/openapi-3.0.json": "3.0", "/swagger.json": "2.0"}


class _NoNullSchema(GenerateJsonSchema):
    """JSON schemas without ``null``: answers leave out fields that would be null, and a
    request field sent as null is refused, so no document offers null. (Null
    branches break 3.0 converters and every Swagger 2.0 consumer.)"""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        default = super().get_default_value(schema)
        return NoDefault if default is None else default


def _content(media_type: str, schema: str, examples: dict[str, Any]) -> dict[str, Any]:
    return {
        media_type: {
            "schema": {"$ref": f"#/components/schemas/{schema}"},
            "examples": {name: {"value": value} for name, value in examples.items()},
        }
    }


def _problem(status: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": _content("application/problem+json", "Problem", {ex.PROBLEMS[status]["code"]: ex.PROBLEMS[status]}),
    }
    if headers:
        response["headers"] = headers
    return response


def _retry_after(description: str) -> dict[str, Any]:
    return {"Retry-After": {"description": description, "schema": {"type": "integer", "minimum": 1}}}


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Optional. A new unique value (e.g. a fresh UUID) for each distinct deletion; send the"
        " same value again only to retry that same request, which then replays the first"
        " answer. The same key with another body answers 422 idempotency_key_reused. Without"
        " it, webhook-id or Cloud Scheduler's job name and schedule time serve as the key."
        " A request signed as a Standard Webhook is keyed by its signed webhook-id, always."
        " Dry runs ignore it."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


_AUTHENTICATE = " Authenticate with X-API-Key, Standard Webhooks headers, or Cloud Run IAM, as CALLER_AUTH configures."
_DELETED_200 = "Every selected route is gone (status deleted: deleted or already absent)."
_OPERATIONS: dict[str, dict[str, Any]] = {
    "/": {
        "operationId": "DeleteCalledRoutes",
        "summary": "Delete called routes (or preview the deletion)",
        "description": (
            "Deletes the called routes selected by dnids, record ids, access code/extension or a"
            " dry run's planToken (exactly one selector), in batches of at most CEC_BATCH_SIZE, and"
            " answers with what happened to each route. With dryRun it only returns the plan, and a"
            " planToken that deletes exactly the routes shown, those still as they were."
        ),
        "request": "DeleteRequest",
        "examples": ex.REQUESTS,
        "200": (
            _DELETED_200[:-1] + ", or the dry-run plan (status planned).",
            {"oneOf": [{"$ref": "#/components/schemas/DeleteResult"}, {"$ref": "#/components/schemas/DryRunResult"}]},
            {"deleted": {"value": ex.DELETED}, "planned": {"value": ex.PLANNED}},
        ),
    },
    "/preview": {
        "operationId": "PreviewDeletion",
        "summary": "Preview a deletion: the plan and its planToken",
        "description": (
            "POST / as a dry run: the same body, validation and answers, with dryRun true unless"
            " given (dryRun false is refused with 400 invalid_request) and no planToken. Deletes"
            " nothing; answers with the plan, a planToken (planId, planExpiresAt) for ApplyPlan."
        ),
        "request": "PreviewRequest",
        "examples": {name: value for name, value in ex.REQUESTS.items() if name != "dryRun"},
        "200": (
            "The plan (status planned), with its planToken.",
            {"$ref": "#/components/schemas/DryRunResult"},
            {"planned": {"value": ex.PLANNED}},
        ),
    },
    "/apply": {
        "operationId": "ApplyPlan",
        "summary": "Apply an approved plan: delete the routes a preview showed",
        "description": (
            "POST / with a planToken and nothing else (any other selector is refused with 400"
            " invalid_request): deletes exactly the routes the preview showed, those whose record"
            " still matches it; the others are reported changed or already_absent."
        ),
        "request": "ApplyRequest",
        "examples": {},
        "200": (_DELETED_200, {"$ref": "#/components/schemas/DeleteResult"}, {"deleted": {"value": ex.DELETED}}),
    },
}


def _delete_operation(path: str) -> dict[str, Any]:
    spec = _OPERATIONS[path]
    description, schema, examples = spec["200"]
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{spec['request']}"}}
    if spec["examples"]:
        media["examples"] = spec["examples"]
    operation: dict[str, Any] = {
        "operationId": spec["operationId"],
        "tags": ["routes"],
        "summary": spec["summary"],
        "description": spec["description"] + _AUTHENTICATE,
        "parameters": [_IDEMPOTENCY_KEY],
        "security": [{"apiKey": []}, {}],
        "requestBody": {"required": True, "content": {"application/json": media}},
        "responses": {
            "200": {
                "description": description,
                "content": {"application/json": {"schema": schema, "examples": examples}},
            },
            "207": {
                "description": "Some routes were deleted, some were not (status partial).",
                "content": _content("application/json", "DeleteResult", {"partial": ex.PARTIAL}),
            },
            "400": _problem(
                "400",
                "The body is not valid (invalid_request with errors, malformed_json, or malformed_body), or the"
                " planToken is not (plan_invalid).",
            ),
            "401": _problem("401", "The caller is not authenticated."),
            "403": _problem(
                "403",
                "The caller's policy does not allow the request (forbidden; nothing was deleted), or the"
                " planToken was made for another caller (plan_wrong_caller).",
            ),
            "405": _problem("405", "Only POST is allowed.", {"Allow": {"schema": {"type": "string"}}}),
            "408": _problem("408", "The body did not arrive within BODY_TIMEOUT_SECONDS (body_timeout, retryable)."),
            "409": _problem(
                "409", "A request with the same idempotency key is still running.", _retry_after("Always 1.")
            ),
            "413": _problem("413", "The body is larger than 1 MiB."),
            "415": _problem("415", "The body is not JSON."),
            "422": {
                "description": (
                    "No route was deleted (a result with status failed), or the idempotency key was"
                    " reused, the selection needs more lookups or upstream calls than allowed, or the"
                    " planToken expired (plan_expired) (a problem)."
                ),
                "content": {
                    **_content("application/json", "DeleteResult", {"failed": ex.FAILED}),
                    **_problem("422", "")["content"],
                },
            },
            "500": _problem("500", "A configured secret is unusable, or an unexpected error."),
            "502": _problem("502", "The CEC API rejected the credentials or the request, or answered unexpectedly."),
            "503": _problem(
                "503",
                "The function is not configured, or a secret, the idempotency store or the CEC API is unavailable.",
                _retry_after("Seconds to wait; on every retryable 503."),
            ),
            "504": _problem("504", "The CEC API did not answer in time."),
        },
    }
    if path == "/preview":
        # A dry run deletes nothing (no 207, no result of failed deletions) and ignores
        # idempotency keys (no 409).
        del operation["parameters"]
        responses = operation["responses"]
        del responses["207"], responses["409"]
        responses["422"] = _problem(
            "422", "The selection needs more lookups or upstream calls than allowed (a problem)."
        )
    return operation


def _alias_schemas(delete_request: dict[str, Any]) -> dict[str, Any]:
    """PreviewRequest and ApplyRequest: DeleteRequest with what each alias takes."""
    properties = delete_request["properties"]
    preview = copy.deepcopy(delete_request)
    del preview["properties"]["planToken"]
    preview["properties"]["dryRun"].update(
        default=True, enum=[True], description="Always true here (POST /preview only previews); may be left out."
    )
    preview.update(
        title="PreviewRequest",
        description="Body of POST /preview: exactly one of dnids, ids or routes; optionally planTtlSeconds.",
        examples=[e for e in delete_request["examples"] if "planToken" not in e],
    )
    preview["x-exactly-one-of"] = [n for n in delete_request["x-exactly-one-of"] if n != "planToken"]
    apply = {
        "additionalProperties": False,
        "description": "Body of POST /apply: the planToken of a POST /preview.",
        "examples": [e for e in delete_request["examples"] if "planToken" in e],
        "properties": {"planToken": copy.deepcopy(properties["planToken"])},
        "required": ["planToken"],
        "title": "ApplyRequest",
        "type": "object",
    }
    return {"PreviewRequest": preview, "ApplyRequest": apply}


_NOT_GET = {
    "description": "Only GET and HEAD are allowed.",
    "headers": {"Allow": {"schema": {"type": "string"}}},
    "content": _content(
        "application/problem+json",
        "Problem",
        {"method_not_allowed": ex.problem(405, "method_not_allowed", "Method not allowed", "POST is not allowed.")},
    ),
}


def _document_route(version: str) -> dict[str, Any]:
    return {
        "operationId": "GetOpenApi" + version.replace(".", ""),
        "tags": ["meta"],
        "summary": f"This interface as OpenAPI {version}" if version != "2.0" else "This interface as Swagger 2.0",
        "security": [],
        "responses": {
            "200": {"description": "The document.", "content": {"application/json": {"schema": {"type": "object"}}}},
            "405": _NOT_GET,
        },
    }


def build_document() -> dict[str, Any]:
    """The 3.1 document without ``servers`` (added per request: see document_bytes)."""
    _, schemas = models_json_schema(
        [
            (DeleteRequest, "validation"),
            (DeleteResult, "serialization"),
            (DryRunResult, "serialization"),
            (Problem, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
        by_alias=True,
        schema_generator=_NoNullSchema,
    )
    health = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "configured": {"type": "boolean"},
            "version": {"type": "string", "description": "The function's version (CHANGELOG.md)."},
        },
        "required": ["status", "configured", "version"],
    }
    schemas["$defs"].update(_alias_schemas(schemas["$defs"]["DeleteRequest"]))
    paths: dict[str, Any] = {
        **{path: {"post": _delete_operation(path)} for path in _OPERATIONS},
        "/healthz": {
            "get": {
                "operationId": "GetHealth",
                "tags": ["meta"],
                "summary": "Liveness; makes no upstream call",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The instance is serving; configured says whether POST can work.",
                        "content": {"application/json": {"schema": health}},
                    },
                    "405": _NOT_GET,
                },
            }
        },
    }
    for path, version in PATHS.items():
        paths[path] = {"get": _document_route(version)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Deletes Huawei Cloud CEC called routes for automation callers. Branch on the"
                " HTTP status, then on code and retryable of a problem (application/problem+json)."
            ),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "tags": [
            {"name": "routes", "description": "Deleting called routes"},
            {"name": "meta", "description": "Health and the interface documents"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


@functools.cache
def _documents() -> dict[Version, dict[str, Any]]:
    # Imported here so that /openapi.json alone does not pay for the converters.
    from function.edge.openapi.convert import to_openapi_30, to_swagger_20  # noqa: PLC0415

    doc31 = build_document()
    doc30 = to_openapi_30(doc31)
    return {"3.1": doc31, "3.0": doc30, "2.0": to_swagger_20(doc30)}


def document(version: Version, server_url: str | None) -> dict[str, Any]:
    """The document of ``version``, with ``server_url`` as its server (2.0: host)."""
    base = _documents()[version]
    if server_url is None:
        return base
    if version == "2.0":
        from function.edge.openapi.convert import swagger_host  # noqa: PLC0415

        return {**base, **swagger_host(server_url)}
    return {**base, "servers": [{"url": server_url}]}


@functools.lru_cache(maxsize=16)  # bounded: the server URL can come from the request's Host
def document_bytes(version: Version, server_url: str | None) -> bytes:
    return json.dumps(document(version, server_url), indent=2).encode("utf-8")
