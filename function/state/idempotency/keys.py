"""Which key a request is idempotent under, and the scoped form a store keeps.

For a request that a webhook signature authenticated, the signed ``webhook-id`` is the
key, always: an unsigned header (``Idempotency-Key``, Scheduler headers) could be added
to a captured request to make a replay run again. Other callers name their key with
``Idempotency-Key``, else ``webhook-id``, else Cloud Scheduler's job name and schedule
time. Keys are scoped by the caller (auth.Caller.scope), so one caller's key can never
reach another's record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from function.callers.auth import Caller
from function.errors import InvalidRequest
from function.log import HeaderLookup

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class RequestKey:
    source: str  # "webhook-id", "idempotency-key", "cloud-scheduler"
    value: str
    scope: str

    @property
    def scoped(self) -> str:
        """The store's key: a hash, so any length and character fits a document id."""
        raw = f"{self.scope}\0{self.source}\0{self.value}".encode("utf-8", errors="surrogatepass")
        return hashlib.sha256(raw).hexdigest()


def request_key(headers: HeaderLookup, caller: Caller, *, dry_run: bool) -> RequestKey | None:
    """The request's key, or None (dry runs delete nothing and may run again)."""
    if dry_run:
        return None
    if caller.method == "webhook":
        # Exactly the value the signature covered (auth reads it the same way).
        return RequestKey("webhook-id", headers.get("webhook-id") or "", caller.scope)
    explicit = (headers.get("Idempotency-Key") or "").strip()
    if len(explicit) > MAX_KEY_LENGTH:
        # Cutting it would make two long keys that share a prefix collide.
        raise InvalidRequest(f"The Idempotency-Key header has {len(explicit)} characters; at most {MAX_KEY_LENGTH}.")
    if explicit:
        return RequestKey("idempotency-key", explicit, caller.scope)
    # The others are stored hashed, so their length does not matter.
    webhook_id = (headers.get("webhook-id") or "").strip()
    if webhook_id:
        return RequestKey("webhook-id", webhook_id, caller.scope)
    job = (headers.get("X-CloudScheduler-JobName") or "").strip()
    scheduled = (headers.get("X-CloudScheduler-ScheduleTime") or "").strip()
    if job and scheduled:
        return RequestKey("cloud-scheduler", f"{job}@{scheduled}", caller.scope)
    return None
