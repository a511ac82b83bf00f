"""The CEC called-route API: authenticated calls and what their HTTP statuses mean."""

from __future__ import annotations

from typing import Any

import requests

from function import redact
from function.budget import Deadline
from function.cec.credentials import CecCredentials, CredentialProvider
from function.cec.tokens import Token, TokenProvider, TokenRefused
from function.cec.transport import Transport
from function.errors import FunctionError, UpstreamAuthFailed, UpstreamBadResponse, UpstreamRejected

DELETE_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute"
QUERY_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute"
CREATE_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/createCalledRoute"

# The reference documents 401 as "service not purchased or account state wrong" and
# 403 as "authentication failed"; which one an expired token gets is unknown, so both
# earn one token renewal.
AUTH_STATUSES = frozenset({401, 403})
# Huawei's API gateway (APIG) answers some refusals with {"error_code", "error_msg"}, with
# 200, 401, 403 or 429: a token to renew, or a throttled call to send again later.
TOKEN_ERROR_CODES = frozenset({"APIG.0307"})
THROTTLE_ERROR_CODES = frozenset({"APIG.0308"})
TOKEN_URL_HINT = (
    "check CEC_TOKEN_URL (it defaults to CEC_BASE_URL + /apigovernance/api/oauth/tokenByAkSk;"
    " some tenants serve it on another port, e.g. :28070)"
)


class TokenUrlNotFound(FunctionError):
    status, code, title = 502, "token_url_not_found", "The CEC token URL was not found"


class UpstreamThrottled(FunctionError):
    status, code, title, retryable = 503, "upstream_throttled", "The CEC API is throttling calls", True


class CecClient:
    def __init__(
        self,
        *,
        base_url: str,
        transport: Transport,
        tokens: TokenProvider,
        credentials: CredentialProvider,
        app_key_header: str = "app-key",
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self._tokens = tokens
        self._credentials = credentials
        # X-APP-Key: "app-key" sends the AK, "omit" sends nothing, "user-id:<id>" sends <id>.
        self._app_key_header = app_key_header

    def delete_called_route(self, dnids: str, deadline: Deadline) -> Any:
        """Call deleteCalledRoute with the wire form of dnids; return the parsed 200 body."""
        return self._call(DELETE_PATH, "delete", {"dnids": dnids}, deadline)

    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        """Call queryCalledRoute with ``body`` (filters, limit, offset); return the parsed 200 body."""
        return self._call(QUERY_PATH, "query", body, deadline)

    def create_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        """Call createCalledRoute (scripts/restore_routes.py only; the function never creates)."""
        return self._call(CREATE_PATH, "create", body, deadline)

    def _call(self, path: str, stage: str, body: dict[str, Any], deadline: Deadline) -> Any:
        """One API call: a refused token is renewed once and the call sent again; a
        throttled call is sent again after a backoff while the budget allows. A refused
        or throttled call did nothing, so sending it again is safe."""
        renewed = False
        throttled = 0
        while True:
            response, token = self._send(path, stage, body, deadline)
            parsed, gateway_code = _read(response)
            if gateway_code in THROTTLE_ERROR_CODES:
                wait = self._transport.retry_wait(throttled, None, deadline)
                if wait is None:
                    raise UpstreamThrottled(
                        f"The CEC API gateway throttled {stage}CalledRoute ({gateway_code}, HTTP"
                        f" {response.status_code}) {throttled + 1} times; nothing was done: retry later.",
                        retry_after=5.0,
                    )
                throttled += 1
                self._transport.sleep(wait)
                continue
            if response.status_code in AUTH_STATUSES or gateway_code in TOKEN_ERROR_CODES:
                if renewed:
                    raise UpstreamAuthFailed(
                        f"{stage}CalledRoute refused the token ({_said(response.status_code, gateway_code)}) twice,"
                        " the second time a new one: check that the CEC tenant has the service, that the AK/SK"
                        " may use this API, and CEC_APP_KEY_HEADER (scripts/probe_tenant.py tells)."
                    )
                # Expired, or revoked by a newer token (another instance's): renew once.
                self._tokens.invalidate(token)
                renewed = True
                continue
            if gateway_code is not None:
                raise UpstreamRejected(
                    f"The CEC API gateway refused {stage}CalledRoute ({_said(response.status_code, gateway_code)})."
                )
            if response.status_code != 200:
                raise UpstreamRejected(
                    f"The CEC API answered {stage}CalledRoute with HTTP {response.status_code}"
                    f"{_status_hint(response.status_code)}."
                )
            if parsed is _NOT_JSON:
                kind = redact.mask(response.headers.get("Content-Type", "no content type").split(";")[0][:64])
                raise UpstreamBadResponse(
                    f"The CEC API answered {stage}CalledRoute with HTTP 200 but a body that is not JSON ({kind})."
                )
            return parsed

    def _send(self, path: str, stage: str, body: dict[str, Any], deadline: Deadline) -> tuple[requests.Response, Token]:
        credentials, token = self._authenticate(deadline)
        headers = {"Authorization": f"Bearer {token.value}"}
        if self._app_key_header == "app-key":
            headers["X-APP-Key"] = credentials.app_key
        elif self._app_key_header.startswith("user-id:"):
            headers["X-APP-Key"] = self._app_key_header.removeprefix("user-id:")
        response = self._transport.post(
            self._base_url + path, stage=stage, json_body=body, headers=headers, deadline=deadline
        )
        return response, token

    def _authenticate(self, deadline: Deadline) -> tuple[CecCredentials, Token]:
        credentials = self._credentials.get(deadline)
        try:
            return credentials, self._tokens.get(credentials, deadline)
        except TokenRefused as exc:
            first = exc
        if first.kind != "credentials" or first.cached or not self._credentials.can_refresh:
            raise _refused(first, credentials)
        # The secret may have been rotated since it was cached: read it once more, and
        # ask for a token again only if it changed.
        refreshed = self._credentials.refresh(deadline)
        if (refreshed.app_key, refreshed.app_secret) == (credentials.app_key, credentials.app_secret):
            raise _refused(first, credentials)
        try:
            return refreshed, self._tokens.get(refreshed, deadline)
        except TokenRefused as second:
            raise _refused(second, refreshed) from None


_NOT_JSON = object()


def _read(response: requests.Response) -> tuple[Any, str | None]:
    """The body (or _NOT_JSON) and the gateway's error code when the body is one of its errors."""
    try:
        body = response.json()
    except ValueError:
        return _NOT_JSON, None
    if isinstance(body, dict) and "returnCode" not in body and isinstance(body.get("error_code"), str):
        return body, redact.mask(body["error_code"].strip()[:32])
    return body, None


def _said(status: int, gateway_code: str | None) -> str:
    return f"HTTP {status}" + (f", {gateway_code}" if gateway_code else "")


def _refused(exc: TokenRefused, credentials: CecCredentials) -> FunctionError:
    held = " (the same answer a moment ago: not asked again yet)" if exc.cached else ""
    if exc.kind == "url":
        return TokenUrlNotFound(f"tokenByAkSk answered HTTP 404{held}: {TOKEN_URL_HINT}.")
    if exc.kind == "other":
        return UpstreamRejected(
            f"tokenByAkSk answered HTTP {exc.status}{held}, which points at neither the AK/SK nor the URL:"
            f" {TOKEN_URL_HINT}, and the app_key and app_secret (scripts/probe_tenant.py tells)."
        )
    return UpstreamAuthFailed(
        f"tokenByAkSk rejected the AK/SK from {credentials.source} (HTTP {exc.status}){held}:"
        " check the app_key and app_secret that the CEC operations administrator issued."
    )


def _status_hint(status: int) -> str:
    hints = {
        400: " (bad path or parameters)",
        404: " (path not found: check CEC_BASE_URL)",
        500: " (business failure: the API refused the parameters)",
    }
    return hints.get(status, "")
