"""Bearer tokens from tokenByAkSk, cached per instance and renewed before they expire.

gen2 serves many requests at once on threads. The first requests on a cold instance
all need a token; a lock around the fetch makes them wait for one tokenByAkSk call
instead of sending one each (the API's rate limits are not documented).

A failed fetch is remembered for FAILURE_HOLD_SECONDS: the requests that follow get
the same failure without a call, so a failing token endpoint sees at most one call
per instance in that time, whatever the traffic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from function import redact
from function.budget import Deadline
from function.cec.bounded import bounded_float
from function.cec.credentials import CecCredentials
from function.cec.transport import Transport
from function.errors import FunctionError, UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable

# Renew this long before expiry: a token that expires in flight costs a 401 and a
# retry. Never less than a few seconds, never more than a tenth of its lifetime.
RENEW_MARGIN_SECONDS = 60.0
# Trust the server's CreateTime only when its clock is this close to ours.
MAX_CLOCK_SKEW_SECONDS = 300.0
# The longest token lifetime believed: a day, far past the API's 3600 s maximum.
MAX_LIFETIME_SECONDS = 86400.0
MAX_TOKEN_CHARS = 8192
# CreateTime is Unix seconds; later than this (the year 5138) is not a time.
MAX_UNIX_SECONDS = 1e11


FAILURE_HOLD_SECONDS = 5.0

TokenFailure = Literal["credentials", "url", "other"]


class TokenRefused(Exception):
    """tokenByAkSk answered without a token: ``kind`` "credentials" for 401, 403 or a 200
    without AccessToken, "url" for 404 (the wrong token URL), "other" for any other status."""

    def __init__(self, status: int, *, cached: bool = False) -> None:
        super().__init__(f"tokenByAkSk answered HTTP {status}")
        self.status = status
        self.cached = cached
        self.kind: TokenFailure = "credentials" if status in (200, 401, 403) else "url" if status == 404 else "other"


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    app_key: str = field(repr=False)
    renew_at: float  # monotonic clock


class TokenProvider:
    def __init__(
        self,
        *,
        transport: Transport,
        url: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._url = url
        self._ttl = ttl_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._token: Token | None = None
        self._lock = threading.Lock()
        # The last failed fetch: for whose credentials, until when (monotonic), and what.
        self._failure: tuple[tuple[str, str], float, TokenRefused | FunctionError] | None = None

    def get(self, credentials: CecCredentials, deadline: Deadline) -> Token:
        token = self._usable(credentials)
        if token is not None:
            return token
        # Waiting for another request's fetch is bounded by this request's budget: a
        # slow tokenByAkSk must not make the requests queued behind it wait in turn.
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise UpstreamTimeout(
                "The request's time budget (REQUEST_BUDGET_SECONDS) ran out waiting for a token"
                " that another request is fetching."
            )
        try:
            token = self._usable(credentials)
            if token is None:
                self._raise_held_failure(credentials)
                try:
                    token = self._fetch(credentials, deadline)
                except (TokenRefused, UpstreamUnavailable, UpstreamBadResponse) as exc:
                    # What the service said, not a timeout: that may be this request's own
                    # budget running out, which must not fail the requests after it.
                    key = (credentials.app_key, credentials.app_secret)
                    self._failure = (key, self._clock() + FAILURE_HOLD_SECONDS, exc)
                    raise
                self._failure = None
                self._token = token
            return token
        finally:
            self._lock.release()

    def _raise_held_failure(self, credentials: CecCredentials) -> None:
        failure = self._failure
        if failure is None or failure[0] != (credentials.app_key, credentials.app_secret):
            return
        _, until, exc = failure
        left = until - self._clock()
        if left <= 0:
            return
        if isinstance(exc, TokenRefused):
            raise TokenRefused(exc.status, cached=True)
        raise type(exc)(
            f"{exc.detail} (held for {FAILURE_HOLD_SECONDS:.0f} s: tokenByAkSk is not called again before then)",
            retry_after=max(1.0, round(left)),
        )

    def invalidate(self, token: Token) -> None:
        """Forget ``token`` after the API refused it; a newer one is kept."""
        with self._lock:
            if self._token is token:
                self._token = None

    def clear_cache(self) -> None:
        with self._lock:
            self._token = None

    def _usable(self, credentials: CecCredentials) -> Token | None:
        token = self._token
        if token is None or token.app_key != credentials.app_key or self._clock() >= token.renew_at:
            return None
        return token

    def _fetch(self, credentials: CecCredentials, deadline: Deadline) -> Token:
        sent_wall, sent_mono = self._wall_clock(), self._clock()
        response = self._transport.post(
            self._url,
            stage="token",
            json_body={"app_key": credentials.app_key, "app_secret": credentials.app_secret},
            headers={"X-Token-Expire": str(self._ttl)},
            deadline=deadline,
        )
        if 500 <= response.status_code <= 599:
            raise UpstreamUnavailable(
                f"tokenByAkSk answered HTTP {response.status_code}: the CEC token service is unavailable.",
                retry_after=FAILURE_HOLD_SECONDS,
            )
        if response.status_code != 200:
            raise TokenRefused(response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UpstreamBadResponse("tokenByAkSk answered 200 with a body that is not a JSON object.")
        value = body.get("AccessToken")
        if not isinstance(value, str) or not value.strip():
            raise TokenRefused(response.status_code)
        if len(value) > MAX_TOKEN_CHARS or not _is_header_safe(value.strip()):
            raise UpstreamBadResponse("tokenByAkSk answered with an AccessToken that cannot be sent as a header.")
        redact.register("cec_token", [value, value.strip()])
        lifetime = bounded_float(body.get("Expires"), low=1.0, high=MAX_LIFETIME_SECONDS) or float(self._ttl)
        created = bounded_float(body.get("CreateTime"), low=0.0, high=MAX_UNIX_SECONDS)
        # Seconds of validity left as the server sees it, measured from when we asked.
        left = lifetime
        if created is not None and abs(created - sent_wall) <= MAX_CLOCK_SKEW_SECONDS:
            left = min(lifetime, created + lifetime - sent_wall)
        margin = max(2.0, min(RENEW_MARGIN_SECONDS, lifetime / 10))
        return Token(value.strip(), credentials.app_key, renew_at=sent_mono + max(0.0, left - margin))


def _is_header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()
