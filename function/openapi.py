"""The OpenAPI 3.1 document of this function, generated from the pydantic models."""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic.json_schema import models_json_schema

from function.models import DeleteRequest, DeleteResult, DryRunResult, Problem

TITLE = "CEC deleteCalledRoute function"
VERSION = "1.0.0"


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _result(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeleteResult"}}},
    }


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def build_document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [
            (DeleteRequest, "validation"),
            (DeleteResult, "serialization"),
            (DryRunResult, "serialization"),
            (Problem, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
        by_alias=True,
    )
    delete = {
        "operationId": "deleteCalledRoutes",
        "summary": "Delete called routes (or preview the deletion)",
        "description": (
            "Deletes the called routes selected by dnids, record ids, access code/extension or a"
            " dry run's planToken (exactly one selector), in batches of at most CEC_BATCH_SIZE, and answers with what"
            " happened to each route. With dryRun it only returns the plan, and a planToken that"
            " deletes exactly the routes shown, those still as they were. Authenticate with"
            " X-API-Key, Standard Webhooks headers, or Cloud Run IAM, as CALLER_AUTH configures."
            " Idempotency-Key (else webhook-id, else Cloud Scheduler's job name and schedule time)"
            " replays the first answer of a repeated request."
        ),
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
            }
        ],
        "security": [{"apiKey": []}, {}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeleteRequest"}}},
        },
        "responses": {
            "200": {
                "description": "Every selected route is gone (deleted or already absent), or the dry-run plan.",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/DeleteResult"},
                                {"$ref": "#/components/schemas/DryRunResult"},
                            ]
                        }
                    }
                },
            },
            "207": _result("Some routes were deleted, some were not."),
            "409": _problem("A request with the same idempotency key is still running.", _RETRY_AFTER),
            "422": {
                "description": (
                    "No route was deleted (a result), or the idempotency key was reused, the"
                    " selection needs more lookups than allowed, or the planToken expired"
                    " (plan_expired) (a problem)."
                ),
                "content": {
                    **_result("")["content"],
                    **_problem("")["content"],
                },
            },
            "400": _problem("The body is not valid (see errors), or the planToken is not (plan_invalid)."),
            "401": _problem("The caller is not authenticated."),
            "403": _problem(
                "The caller's policy does not allow the request (forbidden; nothing was deleted), or the"
                " planToken was made for another caller (plan_wrong_caller)."
            ),
            "405": _problem("Only POST is allowed.", {"Allow": {"schema": {"type": "string"}}}),
            "413": _problem("The body is larger than 1 MiB."),
            "415": _problem("The body is not JSON."),
            "500": _problem("A configured secret is unusable, or an unexpected error."),
            "502": _problem("The CEC API rejected the credentials or answered unexpectedly."),
            "503": _problem("The function is not configured, or a secret or the CEC API is unavailable.", _RETRY_AFTER),
            "504": _problem("The CEC API did not answer in time."),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": {
            "/": {"post": delete},
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness; makes no upstream call",
                    "responses": {
                        "200": {
                            "description": "The instance is serving.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"status": {"const": "ok"}, "configured": {"type": "boolean"}},
                                        "required": ["status", "configured"],
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return json.dumps(build_document(), indent=2).encode("utf-8")
