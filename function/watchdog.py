"""One thread that acts when deadlines pass: the core of the body and HTTP-call watchdogs.

A timer per request would be a thread per request; here one daemon thread per
watchdog sleeps until the earliest deadline in a heap. Waking it costs a thread switch
and a GIL hand-off, which under load cost more CPU than the work it guards
(bench/FINDINGS.md), so an item wakes it only when its deadline is earlier than the
thread's own next wake-up, and with nothing pending the thread stays on a timer for
``linger_seconds`` before it sleeps for good: back-to-back requests then find it on a
timer that ends before their deadlines, and wake nothing.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

T = TypeVar("T")

# How long the thread stays on a timer once nothing is pending.
LINGER_SECONDS = 1.0


class DeadlineWatchdog(ABC, Generic[T]):
    """Calls :meth:`fire` for an item once its deadline passes, unless :meth:`done` by then.

    ``lock`` guards the items: hold it to :meth:`add` and :meth:`prune`, and while
    changing what ``done`` and ``fire`` read; the thread holds it while it calls them.
    """

    def __init__(self, name: str, *, linger_seconds: float = LINGER_SECONDS) -> None:
        self.name = name
        self.linger_seconds = linger_seconds
        self.lock = threading.Condition()
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the thread wakes by itself next; inf: only when notified

    @abstractmethod
    def done(self, item: T) -> bool:
        """Whether the item no longer needs its deadline (it is dropped unfired)."""

    @abstractmethod
    def fire(self, item: T) -> None:
        """Act on an item whose deadline passed; called once, under ``lock``."""

    def add(self, deadline: float, item: T) -> None:
        """Watch ``item`` until ``deadline`` (time.monotonic); the caller holds ``lock``."""
        heapq.heappush(self._heap, (deadline, next(self._seq), item))
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        if deadline < self._wakes_at:
            self.lock.notify()

    def prune(self) -> None:
        """Drop the done items at the front of the heap; the caller holds ``lock``."""
        while self._heap and self.done(self._heap[0][2]):
            heapq.heappop(self._heap)

    def _run(self) -> None:
        lingered = False
        with self.lock:
            while True:
                self.prune()
                if not self._heap:
                    if lingered:  # a whole linger with nothing pending: sleep until notified
                        self._wakes_at = math.inf
                        self.lock.wait()
                        lingered = False
                    else:
                        self._wakes_at = time.monotonic() + self.linger_seconds
                        self.lock.wait(self.linger_seconds)
                        lingered = True
                    continue
                lingered = False
                self._wakes_at = self._heap[0][0]
                wait = self._wakes_at - time.monotonic()
                if wait > 0:
                    self.lock.wait(wait)
                    continue
                _, _, item = heapq.heappop(self._heap)
                self.fire(item)
