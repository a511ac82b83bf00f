"""Fetching a window of lookup pages at once, on threads that never outlive the call.

Resolving ids on a large tenant is one queryCalledRoute call per 100 records; at a
real tenant's 100-250 ms per call, 100 sequential calls approach the request budget.
Once the first page has told the total, the next pages are independent reads, so they
are fetched ``len(window)`` at a time (``CEC_LOOKUP_CONCURRENCY``).

Bounds: one pool per window, at most ``len(window)`` threads, joined before this
returns (also when a page fails: the pages not yet started are cancelled, the running
ones finish within the request's deadline, which every call's timeout is cut to).
Each page runs in a copy of the request's context, so its log lines carry the request
id and its calls count against the request's upstream-call limit.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def fetch_pages(fetch: Callable[[int], T], window: list[int]) -> list[T]:
    """``fetch(offset)`` for every page offset of ``window``, in window order.

    One page is fetched on the calling thread; more go to a pool of that size.
    """
    if len(window) == 1:
        return [fetch(window[0])]
    pool = ThreadPoolExecutor(max_workers=len(window), thread_name_prefix="lookup-page")
    futures: list[Future[T]] = []
    try:
        for offset in window:
            context = contextvars.copy_context()
            futures.append(pool.submit(context.run, fetch, offset))
        return [future.result() for future in futures]
    finally:
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True)
