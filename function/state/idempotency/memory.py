"""The per-instance store: in memory, bounded, fair between callers.

Two instances do not share it; a duplicate that reaches another instance is handled
by convergence (deleting is convergent), not by this store. Bounds: at most
``max_entries`` records, at most ``max_per_scope`` per caller scope. An in-progress
record is never evicted (the number of those is bounded by the instance's request
concurrency, not by callers); a caller at its quota evicts its own oldest answer, and a
full store evicts from the scope that holds the most, so no caller can push out
another's records by filling the store.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from function.state.idempotency.base import (
    Claim,
    IdempotencyStore,
    Record,
    StoredAnswer,
    StoreError,
    decode_answer,
    encode_answer,
    in_progress,
    key_reused,
    log_not_stored,
)


@dataclass(frozen=True)
class _Entry:
    record: Record  # its answer is None: kept below, compressed when large
    token: int
    status: int = 0
    data: bytes = b""
    compressed: bool = False

    def full(self) -> Record:
        if self.record.state != "completed":
            return self.record
        return replace(self.record, answer=StoredAnswer(self.status, decode_answer(self.data, self.compressed)))


class MemoryStore(IdempotencyStore):
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        max_per_scope: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.max_per_scope = min(max_per_scope or max_entries, max_entries)
        self._clock = clock
        # Per scope, oldest first; each scope's dict is its own eviction order.
        self._scopes: dict[str, OrderedDict[str, _Entry]] = {}
        self._where: dict[str, str] = {}  # key -> scope
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()

    def claim(self, key: str, *, scope: str, fingerprint: str, hold_seconds: float) -> Claim | StoredAnswer:
        now = self._clock()
        with self._lock:
            entry = self._live(key, now)
            if entry is not None:
                record = entry.record
                if record.fingerprint != fingerprint:
                    raise key_reused()
                if record.state == "in_progress" and record.expires_at > now:
                    raise in_progress()
                if record.state == "completed":
                    answer = entry.full().answer
                    assert answer is not None
                    return answer
                self._drop(key)  # an in-progress claim past its hold: taken over below
            self._make_room(scope, now)
            token = next(self._tokens)
            record = Record(scope, fingerprint, "in_progress", now, now, now + hold_seconds)
            self._scopes.setdefault(scope, OrderedDict())[key] = _Entry(record, token)
            self._where[key] = scope
            return Claim(key, token)

    def finish(self, claim: Claim, answer: StoredAnswer) -> bool:
        encoded = encode_answer(answer.body)
        now = self._clock()
        with self._lock:
            entry = self._own(claim)
            if entry is None:
                return False
            if encoded is None:
                self._drop(claim.key)
                log_not_stored(len(answer.body))
                return False
            # Kept compressed, as the Firestore store keeps it: the same bound on both.
            data, compressed = encoded
            record = replace(entry.record, state="completed", updated_at=now, expires_at=now + self.ttl_seconds)
            scope = self._scopes[entry.record.scope]
            scope[claim.key] = _Entry(record, entry.token, answer.status, data, compressed)
            scope.move_to_end(claim.key)
            return True

    def abandon(self, claim: Claim) -> None:
        with self._lock:
            if self._own(claim) is not None:
                self._drop(claim.key)

    def get(self, key: str) -> Record | None:
        with self._lock:
            entry = self._live(key, self._clock())
            return None if entry is None else entry.full()

    def clear_cache(self) -> None:
        with self._lock:
            self._scopes.clear()
            self._where.clear()

    def __len__(self) -> int:
        return len(self._where)

    def _live(self, key: str, now: float) -> _Entry | None:
        scope = self._where.get(key)
        if scope is None:
            return None
        entry = self._scopes[scope][key]
        if entry.record.state == "completed" and entry.record.expires_at <= now:
            self._drop(key)
            return None
        return entry

    def _own(self, claim: Claim) -> _Entry | None:
        scope = self._where.get(claim.key)
        entry = None if scope is None else self._scopes[scope][claim.key]
        if entry is None or entry.token != claim.token or entry.record.state != "in_progress":
            return None
        return entry

    def _drop(self, key: str) -> None:
        scope = self._where.pop(key)
        entries = self._scopes[scope]
        del entries[key]
        if not entries:
            del self._scopes[scope]

    def _make_room(self, scope: str, now: float) -> None:
        own = self._scopes.get(scope)
        if own is not None and len(own) >= self.max_per_scope:
            self._evict_from(scope, now)
        if len(self._where) >= self.max_entries:
            # The caller holding the most pays; on a tie, the claimant itself.
            largest = max(self._scopes, key=lambda s: (len(self._scopes[s]), s == scope))
            self._evict_from(largest, now)

    def _evict_from(self, scope: str, now: float) -> None:
        """Drop expired records of ``scope`` (answers past their TTL, claims past their hold),
        else its oldest answer; never a live in-progress claim."""
        entries = self._scopes[scope]
        expired = [k for k, e in entries.items() if e.record.expires_at <= now]
        for key in expired:
            self._drop(key)
        if expired:
            return
        for key, entry in entries.items():
            if entry.record.state == "completed":
                self._drop(key)
                return
        # Only running requests: their number is bounded by this instance's concurrency,
        # so this takes a quota smaller than that; refuse rather than forget one.
        raise StoreError(f"the idempotency store holds {len(entries)} running requests for this caller")
