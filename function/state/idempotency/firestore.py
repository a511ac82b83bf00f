"""The shared store: one Firestore document per scoped key, for every instance.

A claim is ``create()``, which fails atomically when the document exists: no
read-then-write race between instances. A record past its hold (a crashed instance's
claim) or its TTL is taken over by an update with a precondition on the update time
that was read, so two instances cannot both take it. finish and abandon carry the
claim's own update time, so a slow instance whose claim was taken over cannot
overwrite the new owner's record. Firestore deletes expired documents by the TTL
policy on ``expires_at`` (within about a day), so reads treat an expired document as
absent themselves.

google-cloud-firestore (gRPC, ~0.5 s to import) is imported on first use, only when
``IDEMPOTENCY_STORE=firestore``. Every call has a timeout and no library retry: the
whole of one store operation stays within ``timeout_seconds``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from function.state.idempotency.base import (
    Claim,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStore,
    Record,
    State,
    StoredAnswer,
    StoreError,
    decode_answer,
    encode_answer,
    in_progress,
    key_reused,
    log_not_stored,
)

_UTC = datetime.UTC
# Attempts at a claim when other instances keep winning the race for an expired record.
_CLAIM_ATTEMPTS = 3


def _stamp(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=_UTC)


def _seconds(value: Any) -> float:
    return float(value.timestamp()) if isinstance(value, datetime.datetime) else 0.0


class FirestoreStore(IdempotencyStore):
    def __init__(
        self,
        *,
        project: str | None,
        database: str,
        collection: str,
        ttl_seconds: float,
        timeout_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.project = project
        self.database = database
        self.collection = collection
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._client: Any = None
        self._errors: Any = None  # google.api_core.exceptions, once imported
        self._lock = threading.Lock()

    # -- the interface --------------------------------------------------------------

    def claim(self, key: str, *, scope: str, fingerprint: str, hold_seconds: float) -> Claim | StoredAnswer:
        with self._calls() as call:
            doc = self._doc(key)
            for _ in range(_CLAIM_ATTEMPTS):
                now = self._clock()
                fields = self._claim_fields(scope, fingerprint, now, hold_seconds)
                try:
                    result = call(doc.create, fields)
                    return Claim(key, result.update_time)
                except self._errors.AlreadyExists:
                    pass
                snapshot = call(doc.get)
                if not snapshot.exists:
                    continue  # abandoned meanwhile: create again
                record = _record(snapshot.to_dict() or {})
                live = record.expires_at > now
                if live and record.fingerprint != fingerprint:
                    raise key_reused()
                if live and record.state == "in_progress":
                    raise in_progress()
                if live:
                    return _answer(snapshot.to_dict() or {})
                # Past its hold or TTL: take it over, unless someone else just did.
                option = self._client.write_option(last_update_time=snapshot.update_time)
                try:
                    result = call(doc.update, {**fields, "status": None, "body": None}, option=option)
                    return Claim(key, result.update_time)
                except (self._errors.FailedPrecondition, self._errors.NotFound):
                    continue
            raise in_progress("Several instances are claiming this idempotency key at once; retry shortly.")

    def finish(self, claim: Claim, answer: StoredAnswer) -> bool:
        encoded = encode_answer(answer.body)
        with self._calls() as call:
            doc = self._doc(claim.key)
            option = self._client.write_option(last_update_time=claim.token)
            if encoded is None:
                log_not_stored(len(answer.body))
                self._delete_own(call, doc, option)
                return False
            data, compressed = encoded
            now = self._clock()
            fields = {
                "state": "completed",
                "status": answer.status,
                "body": data,
                "compressed": compressed,
                "updated_at": _stamp(now),
                "expires_at": _stamp(now + self.ttl_seconds),
            }
            try:
                call(doc.update, fields, option=option)
            except (self._errors.FailedPrecondition, self._errors.NotFound):
                return False  # taken over after this claim's hold: the new owner's record stays
            return True

    def abandon(self, claim: Claim) -> None:
        with self._calls() as call:
            doc = self._doc(claim.key)
            self._delete_own(call, doc, self._client.write_option(last_update_time=claim.token))

    def get(self, key: str) -> Record | None:
        with self._calls() as call:
            snapshot = call(self._doc(key).get)
            if not snapshot.exists:
                return None
            data = snapshot.to_dict() or {}
            record = _record(data)
            if record.expires_at <= self._clock() and record.state == "completed":
                return None
            if record.state == "completed":
                return dataclasses.replace(record, answer=_answer(data))
            return record

    def clear_cache(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- helpers ----------------------------------------------------------------------

    def _claim_fields(self, scope: str, fingerprint: str, now: float, hold: float) -> dict[str, Any]:
        return {
            "scope": scope,
            "fingerprint": fingerprint,
            "state": "in_progress",
            "created_at": _stamp(now),
            "updated_at": _stamp(now),
            "expires_at": _stamp(now + hold),
        }

    def _delete_own(self, call: Callable[..., Any], doc: Any, option: Any) -> None:
        with contextlib.suppress(self._errors.FailedPrecondition, self._errors.NotFound):
            call(doc.delete, option=option)  # suppressed: not ours any more

    def _doc(self, key: str) -> Any:
        return self._connect().collection(self.collection).document(key)

    def _connect(self) -> Any:
        with self._lock:
            if self._client is None:
                # Imported here: gRPC and protobuf cost ~0.5 s, paid only with this store.
                from google.api_core import exceptions  # noqa: PLC0415 - see the comment above
                from google.cloud import firestore  # noqa: PLC0415

                self._errors = exceptions
                self._client = firestore.Client(project=self.project, database=self.database)
            return self._client

    @contextmanager
    def _calls(self) -> Iterator[Callable[..., Any]]:
        """A caller of store methods that share one deadline; any failure is a StoreError."""
        try:
            # The first call imports the library and builds the client (a cold start's
            # cost, not the store's latency): the deadline starts after it.
            self._connect()
        except Exception as exc:  # noqa: BLE001 - no project, no credentials, a broken install
            raise StoreError(f"the idempotency store could not be set up: {type(exc).__name__}") from None
        end = time.monotonic() + self.timeout_seconds

        def call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            left = end - time.monotonic()
            if left <= 0:
                raise StoreError(f"the idempotency store did not answer within {self.timeout_seconds:g} s")
            return method(*args, retry=None, timeout=left, **kwargs)

        try:
            yield call
        except (StoreError, IdempotencyInProgress, IdempotencyKeyReused):
            raise
        except Exception as exc:  # noqa: BLE001 - unreachable, slow, refused, bad credentials
            raise StoreError(f"the idempotency store failed: {type(exc).__name__}") from None


def _record(data: dict[str, Any]) -> Record:
    state: State = "completed" if data.get("state") == "completed" else "in_progress"
    return Record(
        scope=str(data.get("scope", "")),
        fingerprint=str(data.get("fingerprint", "")),
        state=state,
        created_at=_seconds(data.get("created_at")),
        updated_at=_seconds(data.get("updated_at")),
        expires_at=_seconds(data.get("expires_at")),
    )


def _answer(data: dict[str, Any]) -> StoredAnswer:
    body = data.get("body")
    status = data.get("status")
    if not isinstance(body, bytes) or not isinstance(status, int):
        raise StoreError("a completed idempotency record has no answer")
    return StoredAnswer(status, decode_answer(body, bool(data.get("compressed"))))
