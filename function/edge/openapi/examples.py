"""Examples for the OpenAPI documents: one per selector, for a dry run, and per answer.

They are answers the function really gives against the bundled simulator's routes
(tests/test_openapi_examples.py sends each request example and validates each answer
example against its schema), so a tool that turns examples into requests sends bodies
the function accepts.
"""

from __future__ import annotations

from typing import Any

REQUESTS: dict[str, dict[str, Any]] = {
    "dnids": {
        "summary": "Delete by dnid (the API's comma-separated string)",
        "value": {"dnids": "1,2"},
    },
    "ids": {
        "summary": "Delete by record id",
        "value": {"ids": ["1127983948544239618"]},
    },
    "routes": {
        "summary": "Delete every route of a hotline",
        "value": {"routes": [{"accessCode": "9911411"}]},
    },
    "dryRun": {
        "summary": "Preview: what would be deleted, nothing is",
        "value": {"routes": [{"accessCode": "9911411"}], "dryRun": True},
    },
}

_REQUEST_ID = "5f0c6e2a9b1d4c3e8a7f6b5c4d3e2f1a"

DELETED = {
    "status": "deleted",
    "dnids": ["1", "2"],
    "deleted": ["9911411", "99114111"],
    "failed": [],
    "ids": ["1127983948544239618", "1127986019188238339"],
    "batches": [{"dnids": ["1", "2"], "returnCode": "0", "description": "data delete success", "status": "deleted"}],
    "requestId": _REQUEST_ID,
}

PLANNED = {
    "status": "planned",
    "dryRun": True,
    "dnids": ["1"],
    "plan": [
        {
            "dnid": "1",
            "id": "1127983948544239618",
            "accessCode": "9911411",
            "extCode": "",
            "target": {"type": "skill_queue", "id": 1, "name": "defaultVideoSkill"},
            "editable": "0",
            "deletable": True,
        }
    ],
    "notFound": [],
    "requestId": _REQUEST_ID,
}

PARTIAL = {
    "status": "partial",
    "dnids": ["5", "6"],
    "deleted": ["4008001000"],
    "failed": ["40080010002"],
    "ids": ["1127986019188238341"],
    "batches": [
        {"dnids": ["5", "6"], "returnCode": "0", "description": "data partial delete success", "status": "partial"}
    ],
    "results": [
        {"dnid": "5", "outcome": "deleted"},
        {
            "dnid": "6",
            "id": "1127986019188238342",
            "accessCode": "4008001000",
            "extCode": "2",
            "outcome": "protected",
            "description": "data partial delete success",
        },
    ],
    "requestId": _REQUEST_ID,
}

FAILED = {
    "status": "failed",
    "dnids": ["7"],
    "deleted": [],
    "failed": ["40080010003"],
    "ids": ["1127986019188238343"],
    "batches": [{"dnids": ["7"], "returnCode": "1", "description": "data delete failed", "status": "failed"}],
    "results": [
        {
            "dnid": "7",
            "id": "1127986019188238343",
            "accessCode": "4008001000",
            "extCode": "3",
            "outcome": "protected",
            "description": "data delete failed",
        }
    ],
    "requestId": _REQUEST_ID,
}


def problem(status: int, code: str, title: str, detail: str, *, retryable: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "urn:cec-delete-called-route:problem:" + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "retryable": retryable,
        "requestId": _REQUEST_ID,
    }
    return body


INVALID = {
    **problem(
        400,
        "invalid_request",
        "The request is not valid",
        "/dnids: item 1 of the comma-separated string (1127983948544239618) has 19 digits:"
        " that is a called-route id, not a dnid",
    ),
    "errors": [
        {
            "pointer": "/dnids",
            "detail": "item 1 of the comma-separated string (1127983948544239618) has 19 digits:"
            " that is a called-route id, not a dnid",
        }
    ],
}

PROBLEMS: dict[str, dict[str, Any]] = {
    "400": INVALID,
    "401": problem(401, "unauthenticated", "The caller is not authenticated", "api_key: no X-API-Key header."),
    "403": problem(
        403,
        "forbidden",
        "The caller's policy does not allow this request",
        "This caller's policy deletes only through plan tokens (requirePlan): make a dry run and send"
        ' {"planToken": ...}.',
    ),
    "405": problem(405, "method_not_allowed", "Method not allowed", "GET is not allowed here; send POST."),
    "408": problem(
        408,
        "body_timeout",
        "The body did not arrive in time",
        "The body did not arrive in time (a pause over 1 s, or more than 5 s in all);"
        " send it at once after the headers.",
        retryable=True,
    ),
    "409": problem(
        409,
        "in_progress",
        "The same request is still running",
        "A request with this idempotency key is still running; retry after Retry-After seconds.",
        retryable=True,
    ),
    "413": problem(413, "payload_too_large", "The body is too large", "The body is larger than 1048576 bytes."),
    "415": problem(
        415,
        "unsupported_media_type",
        "The body must be JSON",
        "No Content-Type; send the body as Content-Type: application/json.",
    ),
    "422": problem(
        422,
        "idempotency_key_reused",
        "The idempotency key was used for another request",
        "This Idempotency-Key was used with a different body.",
    ),
    "500": problem(500, "internal_error", "Internal error", "An unexpected error occurred."),
    "502": problem(502, "upstream_rejected", "The CEC API refused the request", "The CEC API answered 400."),
    "503": problem(
        503,
        "upstream_unavailable",
        "The CEC API is unavailable",
        "The CEC API answered 503 after 3 attempts.",
        retryable=True,
    ),
    "504": problem(
        504, "upstream_timeout", "The CEC API did not answer in time", "No answer within 10 s.", retryable=True
    ),
}
