"""HTTP to the CEC API: one pooled session, a wall-clock bound on every call, bounded retries.

Each attempt is bounded by ``CEC_TIMEOUT_SECONDS`` (or what is left of the request's
budget) as a whole, not per socket read: an upstream that drips its answer is cut
off at that bound (function/http_deadline.py), and an answer larger than
MAX_RESPONSE_BYTES is refused.

Retries cover what is known not to be an answer: connection failures and the
statuses that gateways and rate limiters use (429, 502, 503, 504). Backoff is
exponential with full jitter so that many instances retrying together spread out,
and a ``Retry-After`` is honoured when it fits in the request's budget; when it does
not, the caller gets our 503 with that ``Retry-After`` instead of a long wait.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.utils import get_environ_proxies

from function import log
from function.budget import Deadline
from function.cec.bounded import retry_after_seconds
from function.errors import UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from function.http_deadline import MAX_RESPONSE_BYTES, DeadlineAdapter, ResponseTooLarge
from function.http_deadline import deadline as wall_clock

# The message of an answer cut at MAX_RESPONSE_BYTES.
_TOO_LARGE = f"more than {MAX_RESPONSE_BYTES} bytes; the answer was cut off there"

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Of those, the ones that say the request was not processed (a gateway's 502 or 504 may
# come after the API acted).
NOT_PROCESSED_STATUSES = frozenset({429, 503})
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 2.0
# A longer Retry-After than this is not waited out inside one request: the caller
# is told to come back instead.
RETRY_AFTER_CAP_SECONDS = 5.0
# The URLs whose prepared start is kept: the token endpoint and one per API operation.
_MAX_KNOWN_URLS = 16


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), bounded; else None."""
    return retry_after_seconds(value)


class Transport:
    """Sends JSON POSTs with the retry policy above; knows nothing of CEC semantics."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_retries: int,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session = requests.Session()
        # gen2 serves several requests at once on threads; size the pool to match so
        # that connections are reused instead of opened and dropped.
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = "cec-delete-called-route/1.0"
        # A pooled session would keep every cookie an upstream sets (gateways and WAFs
        # in front of the API do) and send it with every later call, for all callers:
        # a jar that grows with what the upstream sends. The API needs none.
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # With trust_env, requests reads the environment on every call: it walks all of
        # os.environ twice for *_proxy variables and checks NO_PROXY (half a million
        # instructions a call with eight variables, more with more, bench/FINDINGS.md)
        # and looks up ~/.netrc. An instance's environment does not change while it runs (the
        # settings are read once for the same reason), so what requests would find
        # there is read once: HTTP(S)_PROXY and NO_PROXY per URL, and
        # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE as requests picks them.
        self._session.trust_env = False
        self._verify: bool | str = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._targets: dict[str, _Target] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def post(
        self,
        url: str,
        *,
        stage: str,
        json_body: Any,
        headers: dict[str, str],
        deadline: Deadline,
    ) -> requests.Response:
        """POST and return the first response that is not a retryable status.

        Raises UpstreamUnavailable when connections fail or the retryable statuses
        persist, UpstreamTimeout when the server does not answer in time.
        """
        attempt = 0
        may_have_acted = False
        while True:
            timeout = deadline.timeout(self.timeout_seconds, f"calling {stage}")
            ctx = log.current()
            if ctx is not None:
                ctx.count_call(stage)
            try:
                # The body is read inside the bound too (no stream=True): the call is
                # over only when the whole answer is in.
                with wall_clock(timeout):
                    # No redirects: the API has no reason to send one, and requests would
                    # follow it to another host with X-APP-Key (only Authorization is
                    # stripped). A 3xx is then an answer like any other non-200.
                    prepared, proxies = self._prepare(url, json_body, headers)
                    response = self._session.send(
                        prepared, timeout=timeout, allow_redirects=False, proxies=proxies, verify=self._verify,
                        stream=False, cert=None,
                    )  # fmt: skip
            except ResponseTooLarge:
                raise UpstreamBadResponse(f"The CEC API answered {stage} with {_TOO_LARGE}.") from None
            except requests.exceptions.ConnectTimeout:
                failure: str = "connection timed out"
                response = None
            except requests.exceptions.Timeout:
                # The server may have acted on the request; the caller decides.
                raise UpstreamTimeout(f"The CEC API did not answer {stage} within {timeout:.1f} s.") from None
            except requests.exceptions.RequestException as exc:
                failure = _describe_connection_error(exc)
                response = None
                may_have_acted = may_have_acted or failure != "connection refused"

            if response is not None and response.status_code not in RETRY_STATUSES:
                return response

            retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
            if response is not None:
                failure = f"HTTP {response.status_code}"
                may_have_acted = may_have_acted or response.status_code not in NOT_PROCESSED_STATUSES
                response.close()
            wait = self.retry_wait(attempt, retry_after, deadline)
            if wait is None:
                unavailable = UpstreamUnavailable(
                    f"The CEC API is unavailable for {stage}: {failure}"
                    f" after {attempt + 1} attempt{'s' if attempt else ''}.",
                    retry_after=retry_after if retry_after is not None else 1.0,
                )
                unavailable.may_have_acted = may_have_acted
                raise unavailable
            log.event(
                30,
                "retrying upstream call",
                stage=stage,
                attempt=attempt + 1,
                failure=failure,
                waitSeconds=round(wait, 3),
            )
            self._sleep(wait)
            attempt += 1

    def _prepare(
        self, url: str, json_body: Any, headers: dict[str, str]
    ) -> tuple[requests.PreparedRequest, dict[str, str]]:
        """The call as requests' Session.post would prepare it, and the proxies for its URL.

        Session.post prepares every call from scratch: it parses and re-quotes the URL,
        merges the session's headers, cookies and hooks, then the environment's
        settings, through typing-Protocol isinstance checks each time. The URLs are
        few and fixed, so their prepared start is kept and copied; only the body and
        the call's own headers (token, AK) are new. Sent with Session.send, the
        documented way to send a prepared request.
        """
        target = self._targets.get(url)
        if target is None:
            target = _Target(self._session.prepare_request(requests.Request("POST", url)), get_environ_proxies(url))
            if len(self._targets) < _MAX_KNOWN_URLS:
                self._targets[url] = target
        prepared = target.start.copy()
        prepared.prepare_body(None, None, json_body)  # also Content-Type and Content-Length
        prepared.headers.update(headers)
        return prepared, target.proxies

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def retry_wait(self, attempt: int, retry_after: float | None, deadline: Deadline) -> float | None:
        """Seconds to wait before sending attempt ``attempt + 1`` again, or None when no
        retry is left, ``retry_after`` is too long, or the wait does not fit the budget."""
        wait = self._backoff(attempt, retry_after)
        if attempt >= self.max_retries or wait is None or wait >= deadline.remaining() - 0.05:
            return None
        return wait

    def _backoff(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            return retry_after if retry_after <= RETRY_AFTER_CAP_SECONDS else None
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2**attempt))
        with self._lock:
            return self._rng.uniform(0, ceiling)


@dataclass(frozen=True)
class _Target:
    """A URL prepared without a body (the session's headers merged), and its proxies."""

    start: requests.PreparedRequest
    proxies: dict[str, str]  # {} when NO_PROXY covers the host; never changed


def _describe_connection_error(exc: requests.exceptions.RequestException) -> str:
    # The class name says enough; exception messages can carry URLs and are long.
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke during the answer"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Connection refused" in text:
            return "connection refused"
        if "reset" in text.lower() or "RemoteDisconnected" in text or "aborted" in text.lower():
            return "the connection was closed without an answer"
        return "connection failed"
    return type(exc).__name__
