"""Exceptions that become RFC 9457 problem details.

Every failure the function knows about is one of these; each carries the HTTP status,
a stable ``code`` that callers can branch on, and whether retrying can help. Messages
are written for the person reading a workflow tool's run log, and never contain a
secret or a request body.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple


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
    # Whether an attempt may have reached the API and been acted on (a connection that broke
    # after sending, a gateway's 502 or 504); False when every attempt was refused before it
    # was sent, or answered 429 or 503 (not processed). Set by the transport.
    may_have_acted: bool = True


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


# --- The problem codes and their runbook ----------------------------------------------
# One entry per code a FunctionError subclass (in any module of function/) can carry:
# the likely cause an operator should look at, and the fix. Status, title and retryable
# come from the class itself. scripts/write_runbook.py renders docs/RUNBOOK.md from this
# and the classes; tests/test_problem_codes.py fails when a code has no entry or an entry
# no code, or the page is stale.


class Runbook(NamedTuple):
    cause: str
    fix: str


RUNBOOK: dict[str, Runbook] = {
    "invalid_request": Runbook(
        "The caller sent a body the contract refuses: a bad or empty `dnids`/`ids`/`routes`, more than one "
        "selector, an unknown field, more than `MAX_DNIDS` entries. `errors` names each bad field.",
        "Fix the caller's body (the workflow step, the scheduler job's body). Not retryable as is.",
    ),
    "malformed_json": Runbook(
        "The body is not JSON, not UTF-8, or empty: often a low-code tool sending form data or an unrendered template.",
        "Send `Content-Type: application/json` with a JSON object; check the tool's body mode.",
    ),
    "malformed_body": Runbook(
        "The HTTP framing is broken: an invalid chunk, or fewer bytes than `Content-Length`. A proxy or "
        "client cut the body.",
        "Retry from a client that sends the whole body; look for a proxy truncating requests.",
    ),
    "body_timeout": Runbook(
        "The body did not arrive within `BODY_TIMEOUT_SECONDS` (5 s) after the headers: a slow or stalled client.",
        "Retry; if it persists, check the caller's network. Raise `BODY_TIMEOUT_SECONDS` only for slow links.",
    ),
    "unauthenticated": Runbook(
        "No accepted credential: a wrong or rotated-out API key, a bad Standard Webhooks signature or stale "
        "timestamp, or an identity token Cloud Run did not pass. `detail` says what was wrong per method.",
        "Give the caller the current key or secret (`<name>-api-keys`, `<name>-webhook-secret`); for IAM, "
        "grant `roles/run.invoker` and use the function URL as the token audience.",
    ),
    "forbidden": Runbook(
        "The caller's policy (`CALLER_POLICIES`) refuses the request: `dryRunOnly`, `requirePlan`, "
        "`maxRoutes`, or routes outside its `accessCodes`. Nothing was deleted.",
        "Intended when the policy is right; otherwise update the `<name>-caller-policies` secret.",
    ),
    "not_found": Runbook(
        "A path the function does not serve (only `/` and the OpenAPI documents exist).",
        "Call the function URL itself, with POST.",
    ),
    "method_not_allowed": Runbook(
        "A method other than POST on `/`.",
        "Use POST.",
    ),
    "payload_too_large": Runbook(
        "The body is over 1 MiB.",
        "Split the request (fewer dnids or routes per call).",
    ),
    "unsupported_media_type": Runbook(
        "`Content-Type` is not JSON, or names a charset other than UTF-8.",
        "Send `Content-Type: application/json`.",
    ),
    "plan_invalid": Runbook(
        "The `planToken` is malformed or altered, or signed with a key this deployment no longer has "
        "(rotated out of `<name>-plan-signing-keys`, or another deployment's).",
        "Make a new dry run and approve its token; keep the old key in the secret while tokens signed with it live.",
    ),
    "plan_expired": Runbook(
        "The `planToken` is past its `planExpiresAt`: the approval came too late.",
        "Make a new dry run; ask for a longer `planTtlSeconds` if approvals take longer.",
    ),
    "plan_wrong_caller": Runbook(
        "The `planToken` was made by another caller's dry run.",
        "Apply a plan with the same credential that made it.",
    ),
    "in_progress": Runbook(
        "A request with the same idempotency key is still running (a retry arrived early).",
        "Retry after `Retry-After`; the first request's answer is then replayed.",
    ),
    "idempotency_key_reused": Runbook(
        "The idempotency key (or signed `webhook-id`) was used before with a different body: a tool reusing "
        "a fixed key.",
        "Use a new key per distinct request (e.g. the tool's execution id).",
    ),
    "idempotency_unavailable": Runbook(
        "The Firestore idempotency store did not answer in time and `IDEMPOTENCY_ON_STORE_ERROR=fail`. "
        "Nothing was deleted.",
        "Retry. If it persists: the Firestore API, the database name, and the runtime account's "
        "`roles/datastore.user` grant (conditioned on the database).",
    ),
    "lookup_limit_exceeded": Runbook(
        "Resolving the selector would read more than `CEC_MAX_LOOKUP_RECORDS` route records.",
        "Narrow the selector, or raise `CEC_MAX_LOOKUP_RECORDS` (extra_environment_variables).",
    ),
    "upstream_call_limit_exceeded": Runbook(
        "The request needs more upstream calls than `CEC_MAX_UPSTREAM_CALLS`. Nothing was deleted.",
        "Split the request, or raise `CEC_MAX_UPSTREAM_CALLS` with care: it bounds the load on the CEC API.",
    ),
    "not_configured": Runbook(
        "A setting is missing or invalid (`CEC_BASE_URL`, the API keys with no usable key, a webhook secret "
        "that is not base64, a plan token without signing keys). `detail` names it.",
        "Set it: the deployment's variables, or the secret's value (`gcloud secrets versions add`).",
    ),
    "misconfigured": Runbook(
        'The credentials secret (or file) is not JSON `{"app_key", "app_secret"}`.',
        "Add a correct version to `<name>-cec-credentials`; it is read again within `SECRET_CACHE_TTL_SECONDS`.",
    ),
    "secret_unavailable": Runbook(
        "Secret Manager could not be read (no version, no `secretAccessor` grant, unreachable), or the mounted "
        "file could not be read.",
        "Check the secret has an enabled version and the runtime account `<name>-fn` its accessor binding; retry.",
    ),
    "upstream_auth_failed": Runbook(
        "tokenByAkSk refused the AK/SK (after one re-read of the secret), or the API refused a fresh token: "
        "rotated or disabled credentials, or an app without access to the API.",
        "Check the AK/SK and the app in the CEC console (docs/OPERATIONS.md, Credentials); add the right pair "
        "as a new version of `<name>-cec-credentials`. Nothing is deleted until then.",
    ),
    "listing_unstable": Runbook(
        "queryCalledRoute's listing changed while it was read three times over (routes created or deleted "
        "meanwhile, or an order that is not stable between calls), so which routes exist could not be told. "
        "Nothing was deleted.",
        "Retry. If it persists, run scripts/probe_tenant.py: an unstable order on a multi-page listing is a "
        "tenant the lookups cannot read (docs/CEC_API.md); select by `routes` (one access code is a short listing).",
    ),
    "token_url_not_found": Runbook(
        "tokenByAkSk answered 404: the token URL is wrong, not the AK/SK.",
        "Set `CEC_TOKEN_URL` (it defaults to `CEC_BASE_URL` + /apigovernance/api/oauth/tokenByAkSk; some tenants "
        "serve it on another port, e.g. :28070); scripts/probe_tenant.py checks it.",
    ),
    "upstream_throttled": Runbook(
        "The CEC API gateway answered APIG.0308 (throttled) through every retry the request's budget allowed. "
        "Nothing was done by the throttled call.",
        "Retry after `Retry-After`; spread scheduled jobs out, or lower `CEC_LOOKUP_CONCURRENCY`.",
    ),
    "upstream_unavailable": Runbook(
        "The CEC API refused connections or answered 429/502/503/504 through every retry.",
        "Retry after `Retry-After`; check the tenant's status. If the tenant allow-lists source IPs, check the "
        "egress address (docs/OPERATIONS.md, Egress).",
    ),
    "upstream_timeout": Runbook(
        "The CEC API did not answer within `CEC_TIMEOUT_SECONDS`, or the request's budget "
        "(`REQUEST_BUDGET_SECONDS`) ran out.",
        "Retry (deletes converge). If it persists, the API is slow: split requests, or raise the budget and "
        "`timeout_seconds` together.",
    ),
    "upstream_bad_response": Runbook(
        "The CEC API answered 200 with HTML, truncated or wrongly shaped JSON, or over 4 MiB: a gateway or "
        "maintenance page, or a wrong `CEC_BASE_URL`.",
        "Retry; check `CEC_BASE_URL` points at the tenant's API, not a console or portal page.",
    ),
    "upstream_rejected": Runbook(
        "The CEC API answered 400, 404, 500 or another status retrying cannot fix: a wrong path or "
        "`CEC_BASE_URL`, or an API the app may not call.",
        "Check `CEC_BASE_URL` and the app's API permissions (docs/OPERATIONS.md, Credentials).",
    ),
    "internal_error": Runbook(
        "A bug: an exception nobody expected.",
        "Find the request's log lines by its `requestId` (the stack frames are there) and report it.",
    ),
}
