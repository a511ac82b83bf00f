"""Idempotency keys: a repeated request replays its first answer instead of running again.

The store is per instance, in memory and bounded. Two instances can each run the
same key once; that is safe because deleting is convergent (a route already gone is
``already_absent``, a success), not because of this store.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from function.errors import FunctionError, InvalidRequest
from function.log import HeaderLookup

MAX_KEY_LENGTH = 255


class IdempotencyInProgress(FunctionError):
    status, code, title, retryable = 409, "in_progress", "The same request is still running", True


class IdempotencyKeyReused(FunctionError):
    status, code, title = 422, "idempotency_key_reused", "The idempotency key was used for another request"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes


@dataclass
class _Entry:
    fingerprint: str
    expires_at: float
    answer: StoredAnswer | None = None  # None while the first request runs


def key_from_headers(headers: HeaderLookup) -> tuple[str, str] | None:
    """(source, key): Idempotency-Key, else webhook-id, else Cloud Scheduler's job + time."""
    explicit = (headers.get("Idempotency-Key") or "").strip()
    if len(explicit) > MAX_KEY_LENGTH:
        # Cutting it would make two long keys that share a prefix collide.
        raise InvalidRequest(f"The Idempotency-Key header has {len(explicit)} characters; at most {MAX_KEY_LENGTH}.")
    if explicit:
        return "idempotency-key", explicit
    # The others are stored hashed (see scoped), so their length does not matter.
    webhook_id = (headers.get("webhook-id") or "").strip()
    if webhook_id:
        return "webhook-id", webhook_id
    job = (headers.get("X-CloudScheduler-JobName") or "").strip()
    scheduled = (headers.get("X-CloudScheduler-ScheduleTime") or "").strip()
    if job and scheduled:
        return "cloud-scheduler", f"{job}@{scheduled}"
    return None


class IdempotencyStore:
    def __init__(self, *, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def scoped(caller: str, key: str) -> str:
        # Keys are per caller: two API-key holders may both use "run-1".
        return hashlib.sha256(f"{caller}\0{key}".encode()).hexdigest()

    def begin(self, key: str, fingerprint: str) -> StoredAnswer | None:
        """Claim ``key``; returns a stored answer to replay, or None when the caller should run.

        Raises IdempotencyInProgress or IdempotencyKeyReused.
        """
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(key)
            if entry is not None:
                if entry.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        "This idempotency key was already used with a different body; use a new key for a new request."
                    )
                if entry.answer is None:
                    raise IdempotencyInProgress(
                        "A request with this idempotency key is still running; retry shortly to get its answer.",
                        retry_after=1,
                    )
                return entry.answer
            self._entries[key] = _Entry(fingerprint, now + self.ttl_seconds)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return None

    def finish(self, key: str, answer: StoredAnswer) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.answer = answer
                entry.expires_at = self._clock() + self.ttl_seconds

    def abandon(self, key: str) -> None:
        """Forget a key whose request failed in a way a retry may fix."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.answer is None:
                del self._entries[key]

    def clear_cache(self) -> None:
        with self._lock:
            self._entries.clear()

    def _expire(self, now: float) -> None:
        expired = [k for k, e in self._entries.items() if e.expires_at <= now]
        for key in expired:
            del self._entries[key]
