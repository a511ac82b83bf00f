"""Idempotency: a repeated request replays its first answer instead of running again.

base: the store interface, records, exceptions. keys: which key a request is
idempotent under. memory / firestore: the per-instance and the shared backend.
run: one request's use of a store under the failure policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from function.state.idempotency.base import (
    Claim,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStore,
    IdempotencyUnavailable,
    Record,
    StoredAnswer,
    StoreError,
)
from function.state.idempotency.keys import RequestKey, request_key
from function.state.idempotency.memory import MemoryStore
from function.state.idempotency.run import IdempotentRun

if TYPE_CHECKING:
    from function.settings import Settings

__all__ = [
    "Claim",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "IdempotencyStore",
    "IdempotencyUnavailable",
    "IdempotentRun",
    "MemoryStore",
    "Record",
    "RequestKey",
    "StoreError",
    "StoredAnswer",
    "build_store",
    "request_key",
]


def build_store(settings: Settings) -> IdempotencyStore | None:
    """The configured store, or None when keys are off (IDEMPOTENCY_TTL_SECONDS=0)."""
    if settings.idempotency_ttl_seconds <= 0:
        return None
    if settings.idempotency_store == "firestore":
        # This module imports no Google library; the store does, on its first call.
        from function.state.idempotency.firestore import FirestoreStore  # noqa: PLC0415

        return FirestoreStore(
            project=settings.google_cloud_project,
            database=settings.idempotency_firestore_database,
            collection=settings.idempotency_firestore_collection,
            ttl_seconds=settings.idempotency_ttl_seconds,
            timeout_seconds=settings.idempotency_store_timeout_seconds,
        )
    return MemoryStore(
        ttl_seconds=settings.idempotency_ttl_seconds,
        max_entries=settings.idempotency_max_entries,
        max_per_scope=settings.idempotency_max_entries_per_caller,
    )
