"""Cloud Run IAM callers: whose ID token a request carries, and whether they may call.

The lock of ``iam`` mode is Cloud Run's invoker check: it verifies the token's
signature, audience and expiry before the request reaches the container, and passes
the token on with its signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``. Such a
token cannot be verified again, so its payload is read. A token that still carries a
signature was not checked by Cloud Run (the service is public, or its invoker check
is disabled): it is verified here with google-auth against Google's certificates, for
one of this function's URLs (``IAM_AUDIENCES``), unexpired and issued by Google.
Either way the token's email must be one of ``IAM_ALLOWED_PRINCIPALS``.

A request without a token, or with a JWT still signed, is evidence that Cloud Run
did not check it. Then a token carrying the marker may be forged by anyone, so from
the first such request on, the instance refuses every token carrying the marker (503
``not_configured``) and logs why, once, at CRITICAL; tokens it verifies itself still pass.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from function import log
from function.budget import Deadline
from function.callers.policies import Forbidden
from function.errors import NotConfigured, UpstreamTimeout
from function.http_deadline import DeadlineAdapter
from function.http_deadline import deadline as wall_clock
from function.log import HeaderLookup
from function.settings import Settings

if TYPE_CHECKING:
    from google.auth.transport import Request

SIGNATURE_MARKER = "SIGNATURE_REMOVED_BY_GOOGLE"
# Cloud Run checks X-Serverless-Authorization when a request has it, and then passes
# Authorization on untouched: the first header present is the only one read.
IDENTITY_HEADERS = ("X-Serverless-Authorization", "Authorization")
# A Google ID token is about 1 KiB; a few KiB at most.
MAX_ID_TOKEN_CHARS = 16384
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CLOCK_SKEW_SECONDS = 10
# Google's certificates: kept for their Cache-Control max-age within these bounds;
# after a failed fetch, none is tried again for a while (a public function would
# otherwise fetch once per forged request).
CERTS_TIMEOUT_SECONDS = 5.0
CERTS_TTL_BOUNDS = (60.0, 6 * 3600.0)
CERTS_DEFAULT_TTL = 3600.0
CERTS_RETRY_AFTER_SECONDS = 10.0
MAX_CERTS_BYTES = 256 * 1024

UNCHECKED_ERROR = (
    "An iam request reached the function without Cloud Run's invoker check (no ID token, or one still"
    " signed): the function is publicly invokable or its invoker check is disabled. A token Cloud Run"
    " passed on cannot be told from a forged one then, so this instance refuses such tokens."
    " Remove allUsers/allAuthenticatedUsers from the invokers and enable the invoker check (docs/SECURITY.md)."
)
_MAX_AGE = re.compile(r"max-age=(\d{1,9})")


class CertsUnavailable(Exception):
    """Google's certificates could not be fetched."""


class IamRejected(Exception):
    """The request carries no acceptable token; ``reason`` says what was wrong with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bearer_token(headers: HeaderLookup) -> str | None:
    """The bearer token of the first identity header present, or None."""
    for name in IDENTITY_HEADERS:
        value = (headers.get(name) or "").strip()
        if value:
            scheme, _, token = value.partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _json_segment(segment: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or not 0 < len(email) <= 254 or not email.isprintable():
        return None
    return None if claims.get("email_verified") is False else email


class GoogleCerts:
    """Google's token-signing certificates as a google-auth transport, cached.

    ``google.oauth2.id_token.verify_token`` fetches the certificates through the
    transport it is given on every call; this one answers from its cache while the
    last answer's max-age lasts, and fetches with google-auth's own requests transport
    (imported on the first signed token, never at start).
    """

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Any] | None = None  # (expiry, response)
        self._failed_until = 0.0

    def transport(self, deadline: Deadline) -> Callable[..., Any]:
        def request(url: str, method: str = "GET", **_: Any) -> Any:
            return self._get(url, deadline)

        return request

    def _get(self, url: str, deadline: Deadline) -> Any:
        if url != self.url or not self._lock.acquire(timeout=max(deadline.remaining(), 0.01)):
            raise CertsUnavailable(url)
        try:
            now = self._clock()
            if self._cached is not None and now < self._cached[0]:
                return self._cached[1]
            if now < self._failed_until:
                raise CertsUnavailable(url)
            try:
                response = self._fetch(deadline)
            except Exception:
                self._failed_until = now + CERTS_RETRY_AFTER_SECONDS
                raise
            self._cached = (now + _max_age(response.headers), response)
            return response
        finally:
            self._lock.release()

    def _fetch(self, deadline: Deadline) -> Any:
        # Imported on the first token Cloud Run did not check, never at start (cold start).
        import requests  # noqa: PLC0415
        from google.auth.transport.requests import Request  # noqa: PLC0415

        timeout = deadline.timeout(CERTS_TIMEOUT_SECONDS, "fetching Google's token-signing certificates")
        with requests.Session() as session:
            # Bounded in wall-clock time and size, as every upstream call (function/http_deadline.py).
            session.mount("https://", DeadlineAdapter(max_retries=0, max_response_bytes=MAX_CERTS_BYTES))
            session.mount("http://", DeadlineAdapter(max_retries=0, max_response_bytes=MAX_CERTS_BYTES))
            with wall_clock(timeout):
                response = Request(session)(self.url, method="GET", timeout=timeout)
        if response.status != 200:
            raise CertsUnavailable(f"HTTP {response.status}")
        return response


def _max_age(headers: Mapping[str, str]) -> float:
    match = _MAX_AGE.search(headers.get("cache-control", "") or headers.get("Cache-Control", ""))
    seconds = float(match.group(1)) if match else CERTS_DEFAULT_TTL
    return min(max(seconds, CERTS_TTL_BOUNDS[0]), CERTS_TTL_BOUNDS[1])


class IamVerifier:
    def __init__(self, settings: Settings) -> None:
        self.allowed = settings.iam_principals
        self.audiences = settings.iam_audience_list
        self.certs = GoogleCerts(settings.iam_certs_url)
        self.unchecked_seen = False

    def identify(self, headers: HeaderLookup, deadline: Deadline) -> str:
        """The allowed caller's email; raises IamRejected (401), Forbidden or NotConfigured."""
        token = bearer_token(headers)
        if token is None:
            self._unchecked()
            raise IamRejected("iam: no ID token (Authorization: Bearer <token>)")
        parts = token.split(".")
        header = _json_segment(parts[0]) if len(parts) == 3 and len(token) <= MAX_ID_TOKEN_CHARS else None
        payload = _json_segment(parts[1]) if header is not None else None
        if header is None or payload is None:
            # Not evidence that Cloud Run skipped its check: it may pass on what it
            # accepts that is not a JWT (an OAuth access token).
            raise IamRejected("iam: the ID token is not a readable JWT")
        if parts[2] == SIGNATURE_MARKER:
            if self.unchecked_seen:
                raise NotConfigured(UNCHECKED_ERROR)
            claims: Mapping[str, Any] = payload
        else:
            self._unchecked()
            claims = self._verify(token, deadline)
        email = _email(claims)
        if email is None:
            raise Forbidden("iam: the ID token carries no verified email claim, and only listed emails may call.")
        if email.lower() not in self.allowed:
            raise Forbidden(f"iam: {email} is not in this function's IAM_ALLOWED_PRINCIPALS.")
        return email

    def _unchecked(self) -> None:
        if not self.unchecked_seen:
            self.unchecked_seen = True
            log.event(50, UNCHECKED_ERROR)

    def _verify(self, token: str, deadline: Deadline) -> Mapping[str, Any]:
        """The claims of a token Cloud Run did not check, verified here; raises IamRejected."""
        if not self.audiences:
            raise IamRejected("iam: the ID token was not checked by Cloud Run and IAM_AUDIENCES is not set")
        from google.auth import exceptions  # noqa: PLC0415 - as in GoogleCerts._fetch
        from google.oauth2 import id_token  # noqa: PLC0415

        try:
            claims = id_token.verify_token(
                token,
                cast("Request", self.certs.transport(deadline)),
                audience=list(self.audiences),
                certs_url=self.certs.url,
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
        except (CertsUnavailable, exceptions.TransportError, UpstreamTimeout):
            raise IamRejected("iam: Google's certificates could not be fetched to verify the ID token") from None
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise IamRejected(_verify_reason(str(exc))) from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise IamRejected("iam: the ID token was not issued by Google")
        return claims


def _verify_reason(message: str) -> str:
    """A fixed reason for google-auth's message, which may quote the expected audiences."""
    lowered = message.lower()
    for fragment, reason in (
        ("expired", "the ID token has expired"),
        ("too early", "the ID token is not valid yet"),
        ("audience", "the ID token's audience is not this function"),
        ("signature", "the ID token's signature does not verify"),
        ("certificate for key id", "the ID token was not signed by a Google key"),
    ):
        if fragment in lowered:
            return "iam: " + reason
    return "iam: the ID token could not be verified"
