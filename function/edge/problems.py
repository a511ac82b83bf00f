"""Problem details (RFC 9457): every failure answers application/problem+json."""

from __future__ import annotations

import flask

from function.cec.bounded import retry_after_header
from function.errors import FunctionError
from function.models import Problem

PROBLEM_TYPE_PREFIX = "urn:cec-delete-called-route:problem:"
DEFAULT_RETRY_AFTER_SECONDS = 5


def problem_response(exc: FunctionError, request_id: str) -> flask.Response:
    problem = Problem(
        type=PROBLEM_TYPE_PREFIX + exc.code,
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        code=exc.code,
        retryable=exc.retryable,
        request_id=request_id,
        errors=exc.errors,  # type: ignore[arg-type]
    )
    response = flask.Response(
        problem.model_dump_json(by_alias=True, exclude_none=True),
        exc.status,
        mimetype="application/problem+json",
    )
    for name, value in exc.headers.items():
        response.headers[name] = value
    retry_after = exc.retry_after
    if retry_after is None and exc.status == 503 and exc.retryable:
        # Every retryable 503 says when to come back; schedulers and SDKs honour it.
        retry_after = DEFAULT_RETRY_AFTER_SECONDS
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after_header(retry_after)
    return response
