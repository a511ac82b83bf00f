"""How many upstream calls one request may make, and the check made before starting.

Without a bound, a request's content multiplies its upstream calls: 1000 route
selectors that match nothing were 1000 queryCalledRoute calls, since empty pages read
no records and so never touch ``CEC_MAX_LOOKUP_RECORDS``. Every upstream attempt
(token, lookup page, delete, retry, secret read) is counted in the request's log
context, which refuses the attempt past ``CEC_MAX_UPSTREAM_CALLS``; and before any
call, and again before the first delete, the least number of calls the request needs
is compared with what is left, so a request that cannot fit is refused with nothing
done rather than stopped halfway.
"""

from __future__ import annotations

import math

from function import log
from function.cec.lookup import PAGE_SIZE
from function.errors import UpstreamCallLimitExceeded
from function.models import DeleteRequest


def start(limit: int | None) -> None:
    """Apply ``limit`` to the current request (no-op outside one, e.g. in unit tests)."""
    ctx = log.current()
    if ctx is not None and limit is not None:
        ctx.call_limit = limit


def fewest_lookup_calls(request: DeleteRequest) -> int:
    """A lower bound on the queryCalledRoute calls resolving ``request`` takes."""
    if request.routes is not None:
        # One scan per distinct access code (selectors are merged by it).
        return len({selector.access_code for selector in request.routes})
    if request.dnids is not None and not request.dry_run:
        return 0
    wanted = request.ids if request.ids is not None else request.dnids
    return math.ceil(len(wanted or []) / PAGE_SIZE)


def fewest_delete_calls(count: int, batch_size: int) -> int:
    return math.ceil(count / batch_size)


def left() -> int | None:
    """The upstream calls the current request may still make; None without a limit."""
    ctx = log.current()
    if ctx is None or ctx.call_limit is None:
        return None
    return ctx.call_limit - ctx.calls_made()


def require(needed: int, what: str) -> None:
    """Refuse, before doing it, work that needs more calls than the request has left."""
    ctx = log.current()
    if ctx is None or ctx.call_limit is None:
        return
    left = ctx.call_limit - ctx.calls_made()
    if needed > left:
        raise UpstreamCallLimitExceeded(
            f"{what} needs at least {needed} upstream calls and this request has {left} left"
            f" of {ctx.call_limit} (CEC_MAX_UPSTREAM_CALLS): split the request, select by"
            " fewer access codes, or raise the limit. Nothing was deleted."
        )
