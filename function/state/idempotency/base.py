"""The idempotency store's interface, its records and its exceptions.

A store keeps one record per scoped key: who may replay it (the caller's scope), the
body fingerprint, whether the first request is still running, and its answer once
settled. Both backends (memory.py, firestore.py) give the same semantics; the shared
suite in tests/idempotency/ runs against each.
"""

from __future__ import annotations

import logging
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from function import log
from function.errors import FunctionError

# A Firestore document holds at most 1 MiB, field names and metadata included; an
# answer is kept only when its compressed form leaves room for the rest.
MAX_STORED_ANSWER_BYTES = 900 * 1024
# Answers under this size are stored as they are (compressing buys nothing there).
COMPRESS_ABOVE_BYTES = 4096

State = Literal["in_progress", "completed"]


class IdempotencyInProgress(FunctionError):
    status, code, title, retryable = 409, "in_progress", "The same request is still running", True


class IdempotencyKeyReused(FunctionError):
    status, code, title = 422, "idempotency_key_reused", "The idempotency key was used for another request"


class IdempotencyUnavailable(FunctionError):
    status, code, title, retryable = 503, "idempotency_unavailable", "The idempotency store is unavailable", True


class StoreError(Exception):
    """The store could not answer in time (unreachable, slow, refused); never a caller's fault."""


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes


@dataclass(frozen=True)
class Record:
    """What a store holds for one key; times are Unix seconds (wall clock: shared by instances)."""

    scope: str
    fingerprint: str
    state: State
    created_at: float
    updated_at: float
    expires_at: float
    answer: StoredAnswer | None = None


@dataclass(frozen=True)
class Claim:
    """A claim this request holds; ``token`` lets finish/abandon touch only this claim,
    never one that another instance took over after this one expired."""

    key: str
    token: object


def in_progress(detail: str = "") -> IdempotencyInProgress:
    return IdempotencyInProgress(
        detail or "A request with this idempotency key is still running; retry shortly to get its answer.",
        retry_after=1,
    )


def key_reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "This idempotency key was already used with a different body; use a new key for a new request."
    )


def encode_answer(body: bytes) -> tuple[bytes, bool] | None:
    """(stored bytes, compressed?) for ``body``, or None when even compressed it is too large."""
    if len(body) <= COMPRESS_ABOVE_BYTES:
        return body, False
    packed = zlib.compress(body, 6)
    if len(packed) > MAX_STORED_ANSWER_BYTES:
        return None
    return packed, True


def decode_answer(data: bytes, compressed: bool) -> bytes:
    # Our own writes only; the bound keeps a corrupted record from costing memory.
    if not compressed:
        return data
    inflater = zlib.decompressobj()
    body = inflater.decompress(data, 64 * MAX_STORED_ANSWER_BYTES)
    if inflater.unconsumed_tail:
        raise StoreError("a stored answer inflates past its bound")
    return body


def log_not_stored(size: int) -> None:
    log.event(
        logging.WARNING,
        "idempotency: answer too large to store even compressed; the key is freed instead",
        answerBytes=size,
        limitBytes=MAX_STORED_ANSWER_BYTES,
    )


class IdempotencyStore(ABC):
    """Claim, finish, abandon: each call is atomic; each may raise StoreError."""

    @abstractmethod
    def claim(self, key: str, *, scope: str, fingerprint: str, hold_seconds: float) -> Claim | StoredAnswer:
        """Claim ``key`` for ``hold_seconds`` (the request's budget plus a margin).

        Returns a Claim when the caller should run, or the stored answer to replay.
        Raises IdempotencyInProgress while another live claim runs, IdempotencyKeyReused
        for another fingerprint, StoreError when the store cannot answer.
        An in-progress record past its hold is taken over; an expired record is absent.
        """

    @abstractmethod
    def finish(self, claim: Claim, answer: StoredAnswer) -> bool:
        """Store the settled answer under ``claim`` for the store's TTL; False when it was not stored (too
        large, or the claim was lost to a takeover), in which case the key is freed."""

    @abstractmethod
    def abandon(self, claim: Claim) -> None:
        """Free the key of a request that failed in a way a retry may fix."""

    @abstractmethod
    def get(self, key: str) -> Record | None:
        """The live record of ``key`` (an expired one reads as None)."""

    @abstractmethod
    def clear_cache(self) -> None:
        """Forget what this instance holds (tests): its client; the memory store's records."""
