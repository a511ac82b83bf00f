"""The HTTP function: routes and the one-way flow of a deletion (the request checks are in
request.py, problem answers in problems.py).

HTTP in -> caller auth -> body checks -> validation -> idempotency key -> credentials
-> token -> lookups and deletes -> per-route outcomes -> HTTP out. Every failure is a FunctionError rendered as
problem details; anything else is caught here and becomes a JSON 500.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from function import __version__, log, runtime
from function.budget import Deadline
from function.deletion.service import execute
from function.edge.body import read_body, settle
from function.edge.problems import problem_response
from function.edge.request import capped, check_content_type, fingerprint, parse_json, request_id_from, validate
from function.errors import (
    FunctionError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotConfigured,
    NotFound,
)
from function.models import DeleteRequest, DeleteResult, RouteResult
from function.settings import get_settings
from function.state.idempotency import IdempotentRun, StoredAnswer, request_key

MAX_BODY_BYTES = 1024 * 1024
MAX_LOGGED_PATH = 256


def delete_called_route(request: flask.Request) -> flask.Response:
    """Entry point: ``functions-framework --target delete_called_route``."""
    started = time.monotonic()
    log.setup()
    request_id = uuid.uuid4().hex
    ctx = log.RequestContext(request_id)
    bound = log.bind(ctx)
    summary: dict[str, Any] = {}
    try:
        try:
            # Everything read from the request is read inside the last line of defence.
            request_id = ctx.request_id = request_id_from(request.headers.get("X-Request-Id", ""), request_id)
            ctx.trace_id, ctx.span_id, ctx.sampled = log.parse_trace(request.headers)
            ctx.project = _project()
            response = _route(request, request_id, summary)
        except FunctionError as exc:
            response = problem_response(exc, request_id)
            summary["code"] = exc.code
        except Exception:  # noqa: BLE001 - the last line of defence: a JSON 500, never HTML
            # Type and frames only; never the message, which could quote a payload.
            log.get_logger().error("unexpected error", exc_info=True)
            internal = InternalError("An unexpected error occurred; the request ID identifies it in the logs.")
            response = problem_response(internal, request_id)
            summary["code"] = internal.code
        settle(request)
        response.headers["X-Request-Id"] = request_id
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        if response.status_code >= 500:
            level = logging.ERROR
        # A URL path has no length limit under functions-framework: log a cut one.
        method, path = capped(request.method, 16), capped(request.path, MAX_LOGGED_PATH)
        log.event(
            level,
            f"{method} {path} {response.status_code}",
            httpRequest={
                "requestMethod": method,
                "requestUrl": path,
                "status": response.status_code,
                "latency": f"{time.monotonic() - started:.3f}s",
            },
            upstreamCalls=dict(ctx.upstream_calls),
            durationMs=round((time.monotonic() - started) * 1000, 1),
            **summary,
        )
        return response
    finally:
        log.unbind(bound)


def _project() -> str | None:
    try:
        return get_settings().google_cloud_project
    except FunctionError:
        return None


def _route(request: flask.Request, request_id: str, summary: dict[str, Any]) -> flask.Response:
    path = request.path.rstrip("/") or "/"
    if path in _DELETE_PATHS:
        if request.method != "POST":
            raise MethodNotAllowed(
                f"{request.method} is not allowed here; send POST with a JSON body.", headers={"Allow": "POST"}
            )
        return _delete(request, request_id, summary, path)
    if path == "/healthz" or path in _DOCUMENTS:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"{request.method} is not allowed on {path}.", headers={"Allow": "GET, HEAD"})
        if path in _DOCUMENTS:
            # Imported here: building schemas pulls in pydantic.json_schema, which no
            # deletion needs (25-45 ms of every cold start, bench/FINDINGS.md).
            from function.edge.openapi import document as openapi  # noqa: PLC0415 - see the comment above

            document = openapi.document_bytes(_DOCUMENTS[path], _server_url(request))
            return flask.Response(document, 200, mimetype="application/json")
        configured = _is_configured()
        return _json({"status": "ok", "configured": configured, "version": __version__}, 200)
    raise NotFound(f"There is nothing at {path[:64]}; POST to / to delete routes.")


# POST / does everything; /preview and /apply are the same deletion with one more rule
# each, for callers that need one operation per action (a Power Automate connector).
_DELETE_PATHS = ("/", "/preview", "/apply")
# The OpenAPI documents and their versions (function/edge/openapi/document.py's PATHS; a test keeps
# them equal without importing that module here).
_DOCUMENTS: dict[str, Any] = {"/openapi.json": "3.1", "/openapi-3.0.json": "3.0", "/swagger.json": "2.0"}
_HOST = re.compile(
    r"^(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::[0-9]{1,5})?$"  # name or IPv4, optional port
    r"|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$"  # [IPv6], optional port
)


def _server_url(request: flask.Request) -> str | None:
    """PUBLIC_URL, else the URL this request reached (Cloud Run: X-Forwarded-Proto says
    https), else None when the Host header is not a plain host name."""
    try:
        public_url = get_settings().public_url
    except FunctionError:
        public_url = None  # a document is still served by a misconfigured function
    if public_url:
        return public_url.rstrip("/")
    host = request.host
    if not _HOST.match(host):
        return None
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else request.scheme
    return f"{scheme}://{host}"


def _is_configured() -> bool:
    try:
        rt = runtime.get_runtime()
    except NotConfigured:
        return False
    return not rt.authenticator.keys_known_unusable()


def _delete(request: flask.Request, request_id: str, summary: dict[str, Any], path: str) -> flask.Response:
    rt = runtime.get_runtime()
    settings = rt.settings
    deadline = Deadline(settings.request_budget_seconds)

    # The body's time counts against the request's budget too.
    body = _read_body(request, min(settings.body_timeout_seconds, deadline.remaining()))
    caller = rt.authenticator.authenticate(request.headers, body, deadline)
    summary.update(auth=caller.method, caller=caller.principal)
    check_content_type(request.headers.get("Content-Type"))
    document = parse_json(body)
    parsed = _validate_for(path, document, settings.max_dnids)
    summary.update(selector=parsed.selector, dryRun=parsed.dry_run)

    key = request_key(request.headers, caller, dry_run=parsed.dry_run)
    idem = IdempotentRun.open(
        rt.idempotency,
        key,
        # Only a keyed request is compared with a stored one; the others need no fingerprint.
        fingerprint(document) if key is not None and rt.idempotency is not None else "",
        budget_seconds=settings.request_budget_seconds,
        on_store_error=settings.idempotency_on_store_error,
    )
    summary.update(idem.summary())
    if idem.replay is not None:
        response = flask.Response(idem.replay.body, idem.replay.status, mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        answer = execute(
            rt.client,
            parsed,
            batch_size=settings.cec_batch_size,
            max_lookup_records=settings.cec_max_lookup_records,
            max_dnids=settings.max_dnids,
            deadline=deadline,
            request_id=request_id,
            caller=caller,
            guards=rt.guards,
            max_upstream_calls=settings.cec_max_upstream_calls,
            lookup_concurrency=settings.cec_lookup_concurrency,
        )
    except BaseException:
        idem.abandon()  # a retry must run again, not replay a failure
        raise
    payload = answer.body.model_dump_json(by_alias=True, exclude_none=True).encode()
    idem.finish(answer.settled, StoredAnswer(answer.http_status, payload))  # unsettled: freed, a retry converges
    result = answer.body
    summary.update(outcome=result.status, dnidCount=len(result.dnids))
    if result.plan_id is not None:
        summary["planId"] = result.plan_id
    if isinstance(result, DeleteResult):
        summary.update(
            deletedCount=len(result.deleted),
            failedCount=len(result.failed),
            batchCount=len(result.batches),
        )
        if result.results is not None:
            summary["outcomes"] = _count_outcomes(result.results)
        if result.not_restorable:
            summary["notRestorable"] = len(result.not_restorable)
    return flask.Response(payload, answer.http_status, mimetype="application/json")


def _validate_for(path: str, document: Any, max_dnids: int) -> DeleteRequest:
    """POST /'s validation, plus: /preview is a dry run (dryRun defaults to true there,
    false is refused), /apply takes a planToken and nothing else."""
    if path == "/preview" and isinstance(document, dict) and "dryRun" not in document:
        document = {**document, "dryRun": True}
    parsed = validate(document, max_dnids)
    if path == "/preview" and not parsed.dry_run:
        detail = "POST /preview only previews; send the same body to POST / to delete without a plan"
        raise InvalidRequest(f"dryRun: {detail}.", errors=[{"pointer": "/dryRun", "detail": detail}])
    if path == "/apply" and parsed.plan_token is None:
        detail = f"POST /apply takes the planToken of a POST /preview, not {parsed.selector}"
        raise InvalidRequest(f"planToken: {detail}.", errors=[{"pointer": "/planToken", "detail": detail}])
    return parsed


def _count_outcomes(results: list[RouteResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for route in results:
        counts[route.outcome] = counts.get(route.outcome, 0) + 1
    return counts


def _read_body(request: flask.Request, timeout_seconds: float) -> bytes:
    return read_body(request, limit=MAX_BODY_BYTES, timeout_seconds=timeout_seconds)


class _FrameworkError(FunctionError):
    """What Flask or Werkzeug refused before the function ran, under its own status."""

    def __init__(self, exc: HTTPException) -> None:
        super().__init__(_FRAMEWORK_DETAILS.get(exc.code or 500, "The server could not handle the request."))
        self.status = exc.code or 500  # type: ignore[misc]
        self.code = "_".join(exc.name.lower().replace("'", "").split()) or "internal_error"  # type: ignore[misc]
        self.title = exc.name  # type: ignore[misc]


_FRAMEWORK_DETAILS = {
    # Werkzeug refuses a Host header that is not a host name (a..b, a label over 63
    # characters) on every path, before routing.
    400: "The request is malformed (an invalid Host header, for example); send a plain host name.",
}


def framework_error(exc: HTTPException) -> flask.Response:
    """Problem details for whatever Flask and Werkzeug answer themselves: a Host header
    they refuse (400) on any path, /robots.txt and /favicon.ico (404)."""
    log.setup()
    error: FunctionError = _FrameworkError(exc)
    if exc.code == 404:
        error = NotFound(f"There is nothing at {capped(flask.request.path)}.")
    response = problem_response(error, uuid.uuid4().hex)
    settle(flask.request)
    return response


def _json(data: dict[str, Any], status: int) -> flask.Response:
    return flask.Response(json.dumps(data), status, mimetype="application/json")
