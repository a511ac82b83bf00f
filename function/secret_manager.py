"""Reading secrets from Google Secret Manager, with a TTL cache.

The client library pulls in gRPC and protobuf (about 0.6 s and 35 MiB), so it is
imported on the first read, not when the function loads: a deployment that takes its
credentials from the environment never pays for it.

The REST transport is used everywhere. It is the same code path in production and in
the tests (which point ``SECRET_MANAGER_ENDPOINT`` at a local fake over plain HTTP),
and it shares nothing with gunicorn's threads that gRPC's background threads could
trip over. An ``http://`` endpoint can only be a local fake, so no Google
credentials are looked up or sent to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from function import log
from function.budget import Deadline
from function.errors import SecretUnavailable

MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.2


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
        # One lock for fetching: concurrent cold requests wait for one read instead
        # of each paying for their own.
        self._lock = threading.Lock()

    def read(self, name: str, *, deadline: Deadline, setting: str) -> bytes:
        """The payload of secret version ``name``; ``setting`` names it in errors."""
        cached = self._fresh(name)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._fresh(name)
            if cached is not None:
                return cached
            payload = self._access(name, deadline, setting)
            if self.ttl_seconds > 0:
                self._cache[name] = (payload, self._clock() + self.ttl_seconds)
            return payload

    def invalidate(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

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
            self._client = secretmanager.SecretManagerServiceClient(
                credentials=credentials, client_options=options, transport="rest"
            )
        return self._client

    def _access(self, name: str, deadline: Deadline, setting: str) -> bytes:
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
                response = self._get_client().access_secret_version(name=name, retry=None, timeout=timeout)
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
                log.event(
                    20,
                    "secret read",
                    setting=setting,
                    attempts=attempt,
                    durationMs=round((time.monotonic() - started) * 1000, 1),
                )
                return bytes(response.payload.data)
            log.event(40, "secret read failed", setting=setting, secret=name, reason=reason, attempts=attempt)
            raise SecretUnavailable(f"The secret named by {setting} could not be read: {reason}.")


def _is_transient(exc: Exception) -> bool:
    import requests
    from google.api_core import exceptions as gexc
    from google.api_core import retry as gretry

    if isinstance(exc, (gexc.DeadlineExceeded, gexc.GatewayTimeout, gexc.BadGateway, requests.Timeout)):
        return True
    return bool(gretry.if_transient_error(exc))
