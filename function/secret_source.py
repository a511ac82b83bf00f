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
from function.errors import FunctionError, Misconfigured, SecretUnavailable
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

    @abstractmethod
    def peek(self) -> bytes | None:
        """The last payload read, if any, without waiting for a read (/healthz)."""


class _Read:
    """One read of a mounted file, in flight on a thread of its own."""

    def __init__(self, until: float) -> None:
        self.until = until  # monotonic: past this, nobody waits for it any longer
        self.done = threading.Event()
        self.payload = b""
        self.error: FunctionError | None = None


class MountedSecret(SecretSource):
    """The payload of the file at ``path``, cached for ``ttl_seconds``.

    A read of a mount can block (a stalled volume, a FIFO at the path): each read runs
    on a thread of its own and is waited for at most ``timeout_seconds`` (and what is
    left of the request's budget), with no lock held meanwhile. One read per secret is
    in flight at a time: while it runs, other requests get the cached value, else wait
    for it within the same bound; once that bound has passed, they get 503
    ``secret_unavailable`` at once, until the read ends. A read that never ends holds one
    thread, not one per request.
    """

    def __init__(
        self,
        path: str,
        *,
        setting: str,
        ttl_seconds: float,
        timeout_seconds: float = 5.0,
        mask: Mask = _no_mask,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = self.label = path
        self.setting = setting
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        self._mask = mask
        self._clock = clock
        self._cached: tuple[bytes, float] | None = None
        self._read: _Read | None = None
        self._lock = threading.Lock()  # held for bookkeeping only, never during a read

    def read(self, deadline: Deadline | None = None) -> bytes:
        with self._lock:
            cached = self._cached
            if cached is not None and cached[1] > self._clock():
                return cached[0]
            flight = self._read
            if flight is None:
                flight = self._start()
            elif cached is not None and time.monotonic() < flight.until:
                return cached[0]  # another request is reading it again
        wait = flight.until - time.monotonic()
        if deadline is not None:
            wait = min(wait, deadline.remaining())
        if not flight.done.wait(max(0.0, wait)):
            log.event(40, "secret read failed", setting=self.setting, reason="no answer in time")
            raise SecretUnavailable(
                f"The file named by {self.setting} could not be read in time (SECRET_TIMEOUT_SECONDS is"
                f" {self.timeout_seconds:g} s): check that the secret's volume is mounted and answers."
            )
        if flight.error is not None:
            raise flight.error
        return flight.payload

    def peek(self) -> bytes | None:
        """The last payload read, fresh or not, without waiting; starts a read when there
        is none and none is running."""
        with self._lock:
            if self._cached is not None:
                return self._cached[0]
            if self._read is None:
                self._start()
        return None

    def _start(self) -> _Read:
        flight = self._read = _Read(time.monotonic() + self.timeout_seconds)
        threading.Thread(target=self._fetch, args=(flight,), name="secret-file", daemon=True).start()
        return flight

    def _fetch(self, flight: _Read) -> None:
        started = time.monotonic()
        try:
            with open(self.path, "rb") as handle:
                payload = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            # The path is configuration, not a secret; the OS error names the kind.
            reason = type(exc).__name__
            log.event(40, "secret read failed", setting=self.setting, reason=reason)
            flight.error = SecretUnavailable(
                f"The file named by {self.setting} could not be read ({reason}): check that the"
                " secret is mounted there and the runtime service account may access it."
            )
        else:
            if len(payload) > MAX_FILE_BYTES:
                flight.error = Misconfigured(f"The file named by {self.setting} is over {MAX_FILE_BYTES} bytes.")
            else:
                self._mask(payload)
                duration = round((time.monotonic() - started) * 1000, 1)
                log.event(20, "secret read", setting=self.setting, durationMs=duration)
                flight.payload = payload
        with self._lock:
            if flight.error is None and self.ttl_seconds > 0:
                self._cached = (flight.payload, self._clock() + self.ttl_seconds)
            self._read = None
        flight.done.set()

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

    def peek(self) -> bytes | None:
        return self._reader.peek(self.label)


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
        ttl = max(ttl_seconds, min_ttl_seconds)
        return MountedSecret(
            file, setting=f"{name}_FILE", ttl_seconds=ttl, timeout_seconds=reader.timeout_seconds, mask=mask
        )
    if secret:
        return ManagedSecret(reader, secret, setting=f"{name}_SECRET", min_ttl_seconds=min_ttl_seconds, mask=mask)
    return None
