"""The CEC called-route API: authenticated calls and what their HTTP statuses mean."""

from __future__ import annotations

from typing import Any

import requests

from function import redact
from function.budget import Deadline
from function.cec.credentials import CecCredentials, CredentialProvider
from function.cec.tokens import CredentialsRejected, Token, TokenProvider
from function.cec.transport import Transport
from function.errors import UpstreamAuthFailed, UpstreamBadResponse, UpstreamRejected

DELETE_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute"
QUERY_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute"
CREATE_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/createCalledRoute"

# The reference documents 401 as "service not purchased or account state wrong" and
# 403 as "authentication failed"; which one an expired token gets is unknown, so both
# earn one token renewal.
AUTH_STATUSES = frozenset({401, 403})


class CecClient:
    def __init__(
        self,
        *,
        base_url: str,
        transport: Transport,
        tokens: TokenProvider,
        credentials: CredentialProvider,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self._tokens = tokens
        self._credentials = credentials

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
        response, token = self._send(path, stage, body, deadline)
        if response.status_code in AUTH_STATUSES:
            self._tokens.invalidate(token)
            response, _ = self._send(path, stage, body, deadline)
            if response.status_code in AUTH_STATUSES:
                raise UpstreamAuthFailed(
                    f"{stage}CalledRoute answered HTTP {response.status_code} twice, the second time"
                    " with a new token: check that the CEC tenant has the service and that the AK/SK"
                    " may use this API."
                )
        if response.status_code != 200:
            raise UpstreamRejected(
                f"The CEC API answered {stage}CalledRoute with HTTP {response.status_code}"
                f"{_status_hint(response.status_code)}."
            )
        try:
            return response.json()
        except ValueError:
            kind = redact.mask(response.headers.get("Content-Type", "no content type").split(";")[0][:64])
            raise UpstreamBadResponse(
                f"The CEC API answered {stage}CalledRoute with HTTP 200 but a body that is not JSON ({kind})."
            ) from None

    def _send(self, path: str, stage: str, body: dict[str, Any], deadline: Deadline) -> tuple[requests.Response, Token]:
        credentials, token = self._authenticate(deadline)
        response = self._transport.post(
            self._base_url + path,
            stage=stage,
            json_body=body,
            headers={"Authorization": f"Bearer {token.value}", "X-APP-Key": credentials.app_key},
            deadline=deadline,
        )
        return response, token

    def _authenticate(self, deadline: Deadline) -> tuple[CecCredentials, Token]:
        credentials = self._credentials.get(deadline)
        try:
            return credentials, self._tokens.get(credentials, deadline)
        except CredentialsRejected as first:
            if not self._credentials.can_refresh:
                raise _rejected(first, credentials) from None
        # The secret may have been rotated since it was cached: read it once more.
        credentials = self._credentials.refresh(deadline)
        try:
            return credentials, self._tokens.get(credentials, deadline)
        except CredentialsRejected as second:
            raise _rejected(second, credentials) from None


def _rejected(exc: CredentialsRejected, credentials: CecCredentials) -> UpstreamAuthFailed:
    return UpstreamAuthFailed(
        f"tokenByAkSk rejected the AK/SK from {credentials.source} (HTTP {exc.status}):"
        " check the app_key and app_secret that the CEC operations administrator issued."
    )


def _status_hint(status: int) -> str:
    hints = {
        400: " (bad path or parameters)",
        404: " (path not found: check CEC_BASE_URL)",
        500: " (business failure: the API refused the parameters)",
    }
    return hints.get(status, "")
