"""The memory store's bounds: running claims are never evicted; callers keep to their share."""

from __future__ import annotations

import pytest

from function.state.idempotency import Claim, IdempotencyInProgress, MemoryStore, StoredAnswer, StoreError
from tests.idempotency.conftest import Clock

ANSWER = StoredAnswer(200, b"{}")


def _claim(store: MemoryStore, key: str, scope: str) -> Claim:
    outcome = store.claim(key, scope=scope, fingerprint="f", hold_seconds=10)
    assert isinstance(outcome, Claim)
    return outcome


def test_a_caller_whose_quota_is_all_running_requests_is_refused_not_given_anothers_room(clock: Clock) -> None:
    store = MemoryStore(ttl_seconds=60, max_entries=100, max_per_scope=2, clock=clock)
    _claim(store, "a1", "a")
    _claim(store, "a2", "a")
    with pytest.raises(StoreError):
        store.claim("a3", scope="a", fingerprint="f", hold_seconds=10)
    with pytest.raises(IdempotencyInProgress):  # both running claims are still there
        store.claim("a1", scope="a", fingerprint="f", hold_seconds=10)
    _claim(store, "b1", "b")  # another caller is not affected
    clock.advance(11)  # a claim past its hold may make room
    _claim(store, "a3", "a")


def test_a_full_store_evicts_from_the_largest_caller_and_never_a_running_claim(clock: Clock) -> None:
    store = MemoryStore(ttl_seconds=60, max_entries=4, clock=clock)
    running = _claim(store, "small-running", "small")
    store.finish(_claim(store, "small-done", "small"), ANSWER)
    for n in range(10):
        store.finish(_claim(store, f"big-{n}", "big"), ANSWER)
    assert len(store) == 4
    assert store.get("small-done") is not None and store.get("small-running") is not None
    assert store.get("big-9") is not None and store.get("big-0") is None
    assert store.finish(running, ANSWER) is True
