"""Exceptions that become RFC 9457 problem details.

Every failure the function knows about is one of these; each carries the HTTP status,
a stable ``code`` that callers can branch on, and whether retrying can help. Messages
are written for the person reading a workflow tool's run log, and never contain a
secret or a request body.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FunctionError(Exception):
    """Base class: an error with a problem-details rendering."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.retry_after = retry_after
        self.headers = headers or {}


class InvalidRequest(FunctionError):
    status, code, title = 400, "invalid_request", "The request is not valid"


class MalformedJson(FunctionError):
    status, code, title = 400, "malformed_json", "The body is not valid JSON"


class MalformedBody(FunctionError):
    """The body's framing is broken (a bad chunk size, fewer bytes than declared)."""

    status, code, title = 400, "malformed_body", "The body could not be read"


class BodyTimeout(FunctionError):
    status, code, title, retryable = 408, "body_timeout", "The body did not arrive in time", True


class Unauthenticated(FunctionError):
    status, code, title = 401, "unauthenticated", "The caller is not authenticated"


class NotFound(FunctionError):
    status, code, title = 404, "not_found", "No such resource"


class MethodNotAllowed(FunctionError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class PayloadTooLarge(FunctionError):
    status, code, title = 413, "payload_too_large", "The body is too large"


class UnsupportedMediaType(FunctionError):
    status, code, title = 415, "unsupported_media_type", "The body must be JSON"


class NotConfigured(FunctionError):
    status, code, title = 503, "not_configured", "The function is not configured"


class Misconfigured(FunctionError):
    status, code, title = 500, "misconfigured", "A configured secret is not usable"


class SecretUnavailable(FunctionError):
    status, code, title, retryable = 503, "secret_unavailable", "A secret could not be read", True


class UpstreamAuthFailed(FunctionError):
    status, code, title = 502, "upstream_auth_failed", "The CEC API rejected the credentials"


class UpstreamUnavailable(FunctionError):
    status, code, title, retryable = 503, "upstream_unavailable", "The CEC API is unavailable", True


class UpstreamTimeout(FunctionError):
    status, code, title, retryable = 504, "upstream_timeout", "The CEC API did not answer in time", True


class UpstreamBadResponse(FunctionError):
    status, code, title, retryable = 502, "upstream_bad_response", "The CEC API answered unexpectedly", True


class UpstreamRejected(FunctionError):
    status, code, title = 502, "upstream_rejected", "The CEC API refused the request"


class UpstreamCallLimitExceeded(FunctionError):
    """More upstream calls than CEC_MAX_UPSTREAM_CALLS allows one request (issue 9, item 8)."""

    status, code, title = 422, "upstream_call_limit_exceeded", "The request needs more upstream calls than allowed"


class InternalError(FunctionError):
    """An exception nobody expected; the detail stays generic on purpose."""
