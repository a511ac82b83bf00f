"""One time budget per request, shared by every upstream call and retry in it.

Callers such as Zapier give up after 30 s; an answer that arrives later is lost and
the caller retries blind. Every timeout and backoff is therefore cut to what is left
of the request's budget, so the function always answers, and answers in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from function.errors import UpstreamTimeout


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def timeout(self, cap: float, what: str) -> float:
        """The timeout for the next call: ``cap`` or what is left, whichever is less."""
        left = self.remaining()
        if left <= 0.05:
            raise UpstreamTimeout(
                f"The request's time budget ({self.seconds:g} s, REQUEST_BUDGET_SECONDS) ran out before {what}."
            )
        return min(cap, left)
