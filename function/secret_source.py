"""A secret the function reads at run time: a mounted file or a Secret Manager version.

Every secret setting comes in two forms, ``*_FILE`` and ``*_SECRET``. A file is a
Secret Manager secret mounted as a volume: Cloud Run fetches the value on each read of
the file, so ``latest`` and rotation still work, and no client library is imported
(google-cloud-secret-manager and gRPC are 160-250 ms of a cold instance's first answer,
docs/BENCHMARKS.md). A ``*_SECRET`` version is read with that library: for a secret in
another project, a regional endpoint or a pinned version. Both are cached for
``SECRET_CACHE_TTL_SECONDS`` and can be dropped to force a new read.

A source is given the function that registers a payload's secret values for masking
(``mask``), and calls it before it writes any log line about the read: every line of a
request carries caller-chosen text (its ``X-Request-Id``), so a newly rotated value
must be masked before the first line that follows its arrival.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from function import log
from function.budget import Deadline
from function.errors import Misconfigured, SecretUnavailable
from function.secret_manager import SecretReader

# Secret payloads are a few kilobytes at most; more is a wrong path, not a secret.
MAX_FILE_BYTES = 64 * 1024

# Registers the secret values of a payload with function/redact.py; never raises.
Mask = Callable[[bytes], None]


def _no_mask(payload: bytes) -> None:
    """For a payload that holds no secret value (the caller policies)."""


class SecretSource(ABC):
    """Where one secret setting's payload comes from."""

    setting: str  # the environment variable that names the source, for messages
    label: str  # the path or version name, for messages (never the value)

    @abstractmethod
    def read(self, deadline: Deadline) -> bytes:
        """The payload (cached); raises SecretUnavailable or Misconfigured."""

    @abstractmethod
    def invalidate(self) -> None:
        """Forget the cached payload: the next read fetches it again."""


class MountedSecret(SecretSource):
    """The payload of the file at ``path``, cached for ``ttl_seconds``; one reader at a time."""

    def __init__(
        self,
        path: str,
        *,
        setting: str,
        ttl_seconds: float,
        mask: Mask = _no_mask,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = self.label = path
        self.setting = setting
        self.ttl_seconds = ttl_seconds
        self._mask = mask
        self._clock = clock
        self._cached: tuple[bytes, float] | None = None
        self._lock = threading.Lock()

    def read(self, deadline: Deadline | None = None) -> bytes:
        # A local read: the deadline does not apply (on Cloud Run the platform's fetch
        # behind the file is bounded by the platform).
        with self._lock:
            if self._cached is not None and self._cached[1] > self._clock():
                return self._cached[0]
            started = time.monotonic()
            try:
                with open(self.path, "rb") as handle:
                    payload = handle.read(MAX_FILE_BYTES + 1)
            except OSError as exc:
                # The path is configuration, not a secret; the OS error names the kind.
                reason = type(exc).__name__
                log.event(40, "secret read failed", setting=self.setting, reason=reason)
                raise SecretUnavailable(
                    f"The file named by {self.setting} could not be read ({reason}): check that the"
                    " secret is mounted there and the runtime service account may access it."
                ) from None
            if len(payload) > MAX_FILE_BYTES:
                raise Misconfigured(f"The file named by {self.setting} is over {MAX_FILE_BYTES} bytes.")
            self._mask(payload)
            log.event(20, "secret read", setting=self.setting, durationMs=round((time.monotonic() - started) * 1000, 1))
            if self.ttl_seconds > 0:
                self._cached = (payload, self._clock() + self.ttl_seconds)
            return payload

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None


class ManagedSecret(SecretSource):
    """A Secret Manager version, read through the instance's SecretReader (and its cache)."""

    def __init__(
        self, reader: SecretReader, name: str, *, setting: str, min_ttl_seconds: float = 0.0, mask: Mask = _no_mask
    ) -> None:
        self.label = name
        self.setting = setting
        self._reader = reader
        self._min_ttl_seconds = min_ttl_seconds
        self._mask = mask

    def read(self, deadline: Deadline) -> bytes:
        return self._reader.read(
            self.label, deadline=deadline, setting=self.setting, min_ttl_seconds=self._min_ttl_seconds, mask=self._mask
        )

    def invalidate(self) -> None:
        self._reader.invalidate(self.label)


def secret_source(
    name: str,
    *,
    file: str | None,
    secret: str | None,
    reader: SecretReader,
    ttl_seconds: float,
    min_ttl_seconds: float = 0.0,
    mask: Mask = _no_mask,
) -> SecretSource | None:
    """The source of the secret setting ``name`` (e.g. "API_KEYS"): ``{name}_FILE`` when
    set, else ``{name}_SECRET``, else None. ``min_ttl_seconds`` floors the cache TTL;
    ``mask`` registers a payload's secret values before anything is logged about it."""
    if file:
        return MountedSecret(file, setting=f"{name}_FILE", ttl_seconds=max(ttl_seconds, min_ttl_seconds), mask=mask)
    if secret:
        return ManagedSecret(reader, secret, setting=f"{name}_SECRET", min_ttl_seconds=min_ttl_seconds, mask=mask)
    return None
