"""Fixtures of the idempotency tests: the emulator (once per session) and a store of each kind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from function.state.idempotency import IdempotencyStore, MemoryStore
from function.state.idempotency.firestore import FirestoreStore
from tests.idempotency.emulator import FirestoreEmulator

PROJECT = "test-project"
TTL_SECONDS = 60.0


class Clock:
    """Wall-clock seconds that a test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirestoreEmulator]:
    emulator = FirestoreEmulator(tmp_path_factory.mktemp("firestore") / "emulator.log").start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator_env(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> FirestoreEmulator:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    return firestore_emulator


@pytest.fixture
def clock() -> Clock:
    return Clock()


def firestore_store(clock: Clock, collection: str, timeout: float = 5.0) -> FirestoreStore:
    return FirestoreStore(
        project=PROJECT,
        database="(default)",
        collection=collection,
        ttl_seconds=TTL_SECONDS,
        timeout_seconds=timeout,
        clock=clock,
    )


@pytest.fixture(params=["memory", "firestore"])
def stores(request: pytest.FixtureRequest, clock: Clock) -> Iterator[tuple[IdempotencyStore, IdempotencyStore]]:
    """Two handles on one store, as two instances see it (memory: the same object)."""
    if request.param == "memory":
        store = MemoryStore(ttl_seconds=TTL_SECONDS, max_entries=1000, clock=clock)
        yield store, store
        return
    request.getfixturevalue("emulator_env")
    collection = "t-" + uuid.uuid4().hex  # each test its own collection on the shared emulator
    one, two = firestore_store(clock, collection), firestore_store(clock, collection)
    yield one, two
    one.clear_cache()
    two.clear_cache()


@pytest.fixture
def store(stores: tuple[IdempotencyStore, IdempotencyStore]) -> IdempotencyStore:
    return stores[0]
