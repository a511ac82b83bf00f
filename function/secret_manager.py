"""Reading secrets from Google Secret Manager, with a TTL cache.

The client library pulls in gRPC and protobuf (about 0.6 s and 35 MiB), so it is
imported on the first read, not when the function loads: a deployment that takes its
credentials from the environment never pays for it.

The REST transport is used everywhere. It is the same code path in production and in
the tests (which point ``SECRET_MANAGER_ENDPOINT`` at a local fake over plain HTTP),
and it shares nothing with gunicorn's threads that gRPC's background threads could
trip over. An ``http://`` endpoint can only be a local fake, so no Google
credentials are looked up or sent to it.

The client's timeout bounds each socket read of an attempt, not the attempt: an
endpoint that drips its answer would hold a request for minutes. The client's
requests session gets the DeadlineAdapter (function/http_deadline.py), and every
attempt runs under a wall-clock bound of SECRET_TIMEOUT_SECONDS or what is left of
the request's budget; the answer's size is capped there too.

Reads are single-flight per secret (concurrent requests wait for one read, within
their own budget), a failed read is remembered for FAILURE_HOLD_SECONDS so that a
burst of requests while Secret Manager is down does not become a burst of reads,
and a caller may ask for a floor on the cache TTL (caller secrets: auth.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from function import log
from function.budget import Deadline
from function.errors import SecretUnavailable
from function.http_deadline import DeadlineAdapter
from function.http_deadline import deadline as wall_clock

MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.2
# After a failed read, the same failure is answered for this long without reading.
FAILURE_HOLD_SECONDS = 2.0


class SecretReader:
    """Reads secret versions by resource name and caches their payloads for ``ttl_seconds``."""

    def __init__(
        self,
        *,
        endpoint: str | None,
        timeout_seconds: float,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_seconds = timeout_seconds
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._client: Any = None
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._failures: dict[str, tuple[SecretUnavailable, float]] = {}
        # One lock per secret name (the names are the few in the settings): concurrent
        # cold requests wait for one read instead of each paying for their own.
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def read(
        self,
        name: str,
        *,
        deadline: Deadline,
        setting: str,
        min_ttl_seconds: float = 0.0,
        mask: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """The payload of secret version ``name``; ``setting`` names it in errors.

        ``min_ttl_seconds`` floors the cache TTL for this secret (0: the setting alone);
        ``mask`` registers the payload's secret values before the read is logged.
        """
        cached = self._fresh(name)
        if cached is not None:
            return cached
        lock = self._lock_for(name)
        if not lock.acquire(timeout=max(0.0, deadline.remaining())):
            raise SecretUnavailable(
                f"The secret named by {setting} could not be read in time: another read of it is still running."
            )
        try:
            cached = self._fresh(name)
            if cached is not None:
                return cached
            held = self._failures.get(name)
            if held is not None and held[1] > self._clock():
                raise held[0]
            try:
                payload = self._access(name, deadline, setting, mask)
            except SecretUnavailable as exc:
                self._failures[name] = (exc, self._clock() + FAILURE_HOLD_SECONDS)
                raise
            self._failures.pop(name, None)
            ttl = max(float(self.ttl_seconds), min_ttl_seconds)
            if ttl > 0:
                self._cache[name] = (payload, self._clock() + ttl)
            return payload
        finally:
            lock.release()

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def invalidate(self, name: str) -> None:
        with self._guard:
            self._cache.pop(name, None)

    def peek(self, name: str) -> bytes | None:
        """The last payload read of ``name``, fresh or not; never reads."""
        entry = self._cache.get(name)
        return entry[0] if entry is not None else None

    def clear_cache(self) -> None:
        with self._guard:
            self._cache.clear()
            self._failures.clear()

    def _fresh(self, name: str) -> bytes | None:
        entry = self._cache.get(name)
        if entry is not None and entry[1] > self._clock():
            return entry[0]
        return None

    def _get_client(self) -> Any:
        if self._client is None:
            from google.api_core.client_options import ClientOptions
            from google.cloud import secretmanager

            credentials = None
            if self.endpoint and self.endpoint.startswith("http://"):
                from google.auth.credentials import AnonymousCredentials

                credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            options = ClientOptions(api_endpoint=self.endpoint) if self.endpoint else None
            client = secretmanager.SecretManagerServiceClient(
                credentials=credentials, client_options=options, transport="rest"
            )
            # The REST transport's requests session (an AuthorizedSession) is not public;
            # tests/test_drip.py fails if a client release moves it.
            session = getattr(client.transport, "_session", None)
            if session is not None and hasattr(session, "mount"):
                adapter = DeadlineAdapter(max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
            else:
                log.event(30, "Secret Manager reads are bounded per read, not per call: no session to bound")
            self._client = client
        return self._client

    def _access(self, name: str, deadline: Deadline, setting: str, mask: Callable[[bytes], None] | None) -> bytes:
        from google.api_core import exceptions as gexc

        ctx = log.current()
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            timeout = deadline.timeout(self.timeout_seconds, f"reading {setting}")
            if ctx is not None:
                ctx.count_call("secret")
            try:
                # retry=None: the library's default retry keeps an unreachable
                # endpoint busy for about a minute; ours is bounded in count and time.
                client = self._get_client()
                with wall_clock(timeout) as call:
                    response = client.access_secret_version(name=name, retry=None, timeout=timeout)
                    if call.fired:  # cut at the bound, yet parsed as an (empty) answer
                        raise TimeoutError("no complete answer in time")
            except gexc.NotFound:
                reason = "it does not exist (check the project, secret name and version)"
            except (gexc.PermissionDenied, gexc.Forbidden):
                reason = (
                    "permission denied (grant roles/secretmanager.secretAccessor on it to the runtime service account)"
                )
            except (gexc.Unauthenticated, gexc.Unauthorized):
                reason = "the runtime could not authenticate to Secret Manager"
            except (gexc.FailedPrecondition, gexc.BadRequest):
                reason = "the version is disabled, destroyed or malformed"
            except Exception as exc:  # noqa: BLE001 - anything else is "did not answer"
                reason = f"Secret Manager did not answer ({type(exc).__name__})"
                backoff = RETRY_BACKOFF_SECONDS * attempt
                if attempt < MAX_ATTEMPTS and _is_transient(exc) and deadline.remaining() > backoff + 0.1:
                    time.sleep(backoff)
                    continue
            else:
                if not response.name:
                    # The REST client turns a garbled 200 (HTML, cut or foreign JSON) into
                    # an empty message instead of an error; the real API always names
                    # the version it returns.
                    reason = "Secret Manager answered without the secret version"
                    log.event(40, "secret read failed", setting=setting, secret=name, reason=reason, attempts=attempt)
                    raise SecretUnavailable(f"The secret named by {setting} could not be read: {reason}.")
                payload = bytes(response.payload.data)
                if mask is not None:
                    mask(payload)
                log.event(
                    20,
                    "secret read",
                    setting=setting,
                    attempts=attempt,
                    durationMs=round((time.monotonic() - started) * 1000, 1),
                )
                return payload
            log.event(40, "secret read failed", setting=setting, secret=name, reason=reason, attempts=attempt)
            raise SecretUnavailable(f"The secret named by {setting} could not be read: {reason}.")


def _is_transient(exc: Exception) -> bool:
    import requests
    from google.api_core import exceptions as gexc
    from google.api_core import retry as gretry

    if isinstance(exc, (gexc.DeadlineExceeded, gexc.GatewayTimeout, gexc.BadGateway, requests.Timeout)):
        return True
    return bool(gretry.if_transient_error(exc))
