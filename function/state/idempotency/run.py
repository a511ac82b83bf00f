"""One request's use of the store, under the failure policy (IDEMPOTENCY_ON_STORE_ERROR).

``fail``: a store that cannot answer makes the request a retryable 503
``idempotency_unavailable`` before anything is deleted. ``proceed``: the request runs
without the store (convergence still keeps a duplicate from deleting anything twice)
and the log says so. Either way a store failure after the deletion ran only costs the
stored answer: the caller gets its result.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from function import log
from function.state.idempotency.base import Claim, IdempotencyStore, IdempotencyUnavailable, StoredAnswer, StoreError
from function.state.idempotency.keys import RequestKey

# An in-progress claim is held for the request's budget plus this, so that a crashed
# instance blocks its key for at most that long and a live one is never taken over.
HOLD_MARGIN_SECONDS = 5.0
STORE_RETRY_AFTER_SECONDS = 5

OnStoreError = Literal["fail", "proceed"]


class IdempotentRun:
    def __init__(self, store: IdempotencyStore | None, key: RequestKey | None) -> None:
        self._store = store
        self.key = key
        self._claim: Claim | None = None
        self.replay: StoredAnswer | None = None
        self.store_error: str | None = None

    @classmethod
    def open(
        cls,
        store: IdempotencyStore | None,
        key: RequestKey | None,
        fingerprint: str,
        *,
        budget_seconds: float,
        on_store_error: OnStoreError,
    ) -> IdempotentRun:
        """Claim the key (raises 409/422, or 503 under ``fail``); ``replay`` is set for a replay."""
        run = cls(store, key)
        if store is None or key is None:
            return run
        try:
            outcome = store.claim(
                key.scoped, scope=key.scope, fingerprint=fingerprint, hold_seconds=budget_seconds + HOLD_MARGIN_SECONDS
            )
        except StoreError as exc:
            run.store_error = str(exc)
            if on_store_error == "fail":
                raise IdempotencyUnavailable(
                    "The idempotency store did not answer, so this request was not run; retry shortly.",
                    retry_after=STORE_RETRY_AFTER_SECONDS,
                ) from None
            log.event(
                logging.WARNING,
                "idempotency store failed; going on without the store (IDEMPOTENCY_ON_STORE_ERROR=proceed)",
                error=str(exc),
            )
            return run
        if isinstance(outcome, StoredAnswer):
            run.replay = outcome
        else:
            run._claim = outcome
        return run

    def summary(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.key is not None and self._store is not None:
            fields["idempotencyKeyFrom"] = self.key.source
        if self.replay is not None:
            fields["idempotentReplay"] = True
        if self.store_error is not None:
            fields["idempotencyStoreError"] = self.store_error
        return fields

    def finish(self, settled: bool, answer: StoredAnswer) -> None:
        """Store a settled answer; free the key of an unsettled one (a retry must converge)."""
        if self._store is None or self._claim is None:
            return
        claim, self._claim = self._claim, None
        try:
            if settled:
                self._store.finish(claim, answer)
            else:
                self._store.abandon(claim)
        except StoreError as exc:
            # The deletion ran; the caller gets its answer. The claim lapses after its hold.
            log.event(logging.WARNING, "idempotency store failed; the answer was not stored", error=str(exc))

    def abandon(self) -> None:
        """Free the key of a request that failed in a way a retry may fix."""
        if self._store is None or self._claim is None:
            return
        claim, self._claim = self._claim, None
        try:
            self._store.abandon(claim)
        except StoreError as exc:
            log.event(logging.WARNING, "idempotency store failed; the key lapses after its hold", error=str(exc))
