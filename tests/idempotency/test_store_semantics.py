"""One semantic suite, run against the memory store and the Firestore store (emulator)."""

from __future__ import annotations

import os
import threading

import pytest

from function import log
from function.state.idempotency import (
    Claim,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStore,
    StoredAnswer,
)
from function.state.idempotency.base import MAX_STORED_ANSWER_BYTES
from tests.idempotency.conftest import TTL_SECONDS, Clock

HOLD = 10.0
ANSWER = StoredAnswer(200, b'{"status":"deleted"}')


def claim(store: IdempotencyStore, key: str = "k", fingerprint: str = "f", scope: str = "api_key:a") -> Claim:
    outcome = store.claim(key, scope=scope, fingerprint=fingerprint, hold_seconds=HOLD)
    assert isinstance(outcome, Claim), outcome
    return outcome


def test_claim_then_in_progress_then_reused(store: IdempotencyStore, clock: Clock) -> None:
    claim(store)
    record = store.get("k")
    assert record is not None
    assert (record.state, record.fingerprint, record.scope, record.answer) == ("in_progress", "f", "api_key:a", None)
    assert record.created_at == record.updated_at == clock.now
    assert record.expires_at == clock.now + HOLD
    with pytest.raises(IdempotencyInProgress):
        store.claim("k", scope="api_key:a", fingerprint="f", hold_seconds=HOLD)
    with pytest.raises(IdempotencyKeyReused):
        store.claim("k", scope="api_key:a", fingerprint="other", hold_seconds=HOLD)


def test_finished_answer_is_replayed_with_its_record(store: IdempotencyStore, clock: Clock) -> None:
    held = claim(store)
    clock.advance(2)
    assert store.finish(held, ANSWER) is True
    assert store.claim("k", scope="api_key:a", fingerprint="f", hold_seconds=HOLD) == ANSWER
    record = store.get("k")
    assert record is not None and record.state == "completed" and record.answer == ANSWER
    assert record.updated_at == record.created_at + 2
    assert record.expires_at == record.updated_at + TTL_SECONDS
    with pytest.raises(IdempotencyKeyReused):
        store.claim("k", scope="api_key:a", fingerprint="other", hold_seconds=HOLD)


def test_abandoned_key_can_be_claimed_again(store: IdempotencyStore) -> None:
    store.abandon(claim(store))
    assert store.get("k") is None
    claim(store, fingerprint="another body, now allowed")


def test_one_claim_wins_a_race(stores: tuple[IdempotencyStore, IdempotencyStore]) -> None:
    outcomes: list[object] = []
    barrier = threading.Barrier(8)

    def one(index: int) -> None:
        barrier.wait()
        try:
            outcomes.append(stores[index % 2].claim("race", scope="s", fingerprint="f", hold_seconds=HOLD))
        except IdempotencyInProgress as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(isinstance(o, Claim) for o in outcomes) == 1
    assert sum(isinstance(o, IdempotencyInProgress) for o in outcomes) == 7


def test_a_claim_past_its_hold_is_taken_over_and_the_old_owner_cannot_write(
    stores: tuple[IdempotencyStore, IdempotencyStore], clock: Clock
) -> None:
    first, second = stores
    old = claim(first)
    clock.advance(HOLD - 1)
    with pytest.raises(IdempotencyInProgress):  # not before its hold ends
        second.claim("k", scope="api_key:a", fingerprint="f", hold_seconds=HOLD)
    clock.advance(1.5)
    new = claim(second)
    assert first.finish(old, StoredAnswer(200, b"stale")) is False
    first.abandon(old)  # neither may touch the new owner's claim
    record = second.get("k")
    assert record is not None and record.state == "in_progress"
    assert second.finish(new, ANSWER) is True
    assert first.claim("k", scope="api_key:a", fingerprint="f", hold_seconds=HOLD) == ANSWER


def test_completed_entries_expire_and_read_as_absent(store: IdempotencyStore, clock: Clock) -> None:
    store.finish(claim(store), ANSWER)
    clock.advance(TTL_SECONDS - 1)
    assert store.get("k") is not None
    clock.advance(1)
    assert store.get("k") is None
    claim(store, fingerprint="a new body after expiry")


def test_a_large_answer_is_stored_compressed_and_replayed_whole(store: IdempotencyStore) -> None:
    body = b'{"results":[' + b'{"dnid":"12345678","outcome":"deleted"},' * 60_000 + b"{}]}"
    assert len(body) > 2 * 1024 * 1024
    assert store.finish(claim(store), StoredAnswer(200, body)) is True
    assert store.claim("k", scope="api_key:a", fingerprint="f", hold_seconds=HOLD) == StoredAnswer(200, body)


def test_an_answer_too_large_even_compressed_is_not_stored_and_says_so(
    store: IdempotencyStore, capsys: pytest.CaptureFixture[str]
) -> None:
    body = os.urandom(MAX_STORED_ANSWER_BYTES + 1024)  # random bytes do not compress
    log.setup()
    assert store.finish(claim(store), StoredAnswer(200, body)) is False
    assert "answer too large to store even compressed" in capsys.readouterr().out
    assert store.get("k") is None  # the key is freed: a retry runs again and converges
    claim(store)
