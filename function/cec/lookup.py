"""Looking called routes up with queryCalledRoute: paging, tolerant parsing, local filtering.

The server's filters are not reliably exact (the official example asks for extCode
"11" and gets "11", "" and "1" back), so they only narrow what is read; every match
is decided here. Each request has a record budget (``CEC_MAX_LOOKUP_RECORDS``) shared
by all its lookups, so no selector can make a request read a whole large tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from function import redact
from function.budget import Deadline
from function.cec.bounded import bounded_int
from function.cec.paging import fetch_pages
from function.errors import UpstreamBadResponse

PAGE_SIZE = 100  # the API's maximum, and the only limit sent
# A listing that changes while it is read is read again from the start, this many times
# in all, before the scan says it is incomplete.
MAX_PASSES = 3
UNDELETABLE = frozenset({"2", "3"})
DEVICE_TYPES = {1: "skill_queue", 3: "ivr"}
# dnids, ids and totals above this are not believed (2**63 - 1: a signed 64-bit id).
MAX_UPSTREAM_INT = 2**63 - 1


class QueryApi(Protocol):
    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any: ...


@dataclass(frozen=True)
class RouteRecord:
    id: str
    dnid: str
    access_code: str
    ext_code: str
    devicetype: int | None
    device_id: int | None
    device_desc: str | None
    media_type_id: int | None
    editable: str | None

    @property
    def name(self) -> str:
        """What deleteCalledRoute reports: the two codes glued together."""
        return self.access_code + self.ext_code

    @property
    def deletable(self) -> bool:
        return self.editable not in UNDELETABLE


def _int(value: object) -> int | None:
    # Bounded: a 5000-digit "total" or dnid is not a number we use (and int() raises on it).
    return bounded_int(value, low=0, high=MAX_UPSTREAM_INT)


def _str(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return redact.mask(value.strip())
    if isinstance(value, int):
        return str(value)
    return None


def parse_record(raw: object) -> RouteRecord | None:
    """One calledRouteList entry, or None when it lacks a usable dnid."""
    if not isinstance(raw, dict):
        return None
    dnid = _int(raw.get("dnid"))
    if dnid is None or dnid <= 0:
        return None
    # The field is documented as mediaTypeId in requests and returned as mediatypeId.
    media = raw.get("mediatypeId", raw.get("mediaTypeId"))
    editable = _str(raw.get("editable"))
    return RouteRecord(
        id=_str(raw.get("id")) or "",
        dnid=str(dnid),
        access_code=_str(raw.get("accessCode")) or "",
        ext_code=_str(raw.get("extCode")) or "",
        devicetype=_int(raw.get("devicetype")),
        device_id=_int(raw.get("deviceId")),
        device_desc=_str(raw.get("deviceDesc")),
        media_type_id=_int(media),
        editable=editable or None,
    )


class LookupBudget:
    """How many records one request may still read."""

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self.read = 0


# Why a scan cannot prove that a key it did not see is absent: the record budget stopped
# it, the listing moved under it, the answers cannot be counted (a record without a usable
# dnid, no readable total), or its caller stopped it once it had what it wanted.
Incomplete = Literal["budget", "moved", "unreadable", "stopped"]


@dataclass
class ScanResult:
    records: list[RouteRecord]
    # Why the scan cannot prove it read every record of the listing; None when it can.
    incomplete: Incomplete | None = None

    @property
    def complete(self) -> bool:
        return self.incomplete is None


def scan(
    api: QueryApi,
    filters: dict[str, Any],
    *,
    budget: LookupBudget,
    deadline: Deadline,
    done: Callable[[list[RouteRecord]], bool] | None = None,
    concurrency: int = 1,
) -> ScanResult:
    """Page through queryCalledRoute with ``filters`` until the end, ``done``, or the budget.

    Only the documented pages are asked for: ``limit`` 100 and ``offset`` a multiple of
    it (``offset = limit x (page - 1)``), which a server that counts offsets in records
    and one that rounds them down to pages answer alike. Nothing orders the listing or
    keeps it still between two calls, so a pass counts as complete only when it proves
    it: every page reported the same ``total``, each page held exactly the records its
    place in that total leaves for it, no record came twice, and the records add up to
    ``total``. A listing that moved (a concurrent delete, an unstable order) is read
    again from the start; after MAX_PASSES the scan says it is incomplete, with what it
    did see (every record seen exists, or did while the scan ran). A record without a
    usable dnid is counted but makes the scan incomplete: it could be any route; so does
    an answer without a readable ``total``. When ``done`` says the caller has what it
    wants, the scan stops and says so ("stopped"): what it did not read is not proven.

    With ``concurrency`` above 1, the pages after the first (which tells ``total``) are
    fetched that many at a time; the checks above do not depend on their order.
    """
    result = ScanResult([], "moved")
    for _ in range(MAX_PASSES):
        result = _Pass(api, filters, budget, deadline).run(done, concurrency)
        if result.incomplete != "moved":
            break
    return result


class _Pass:
    """One read of the listing from its first page."""

    def __init__(self, api: QueryApi, filters: dict[str, Any], budget: LookupBudget, deadline: Deadline) -> None:
        self._api = api
        self._filters = filters
        self._budget = budget
        self._deadline = deadline
        self._records: dict[str, RouteRecord] = {}
        self._unreadable = 0

    def run(self, done: Callable[[list[RouteRecord]], bool] | None, concurrency: int) -> ScanResult:
        if self._budget.max_records - self._budget.read < 1:
            return ScanResult([], "budget")
        first, total = self._fetch(0)
        if total is None:
            # Without the documented total nothing can be counted, however short the page:
            # a server may page by fewer records than it was asked for.
            self._budget.read += len(first)
            return self._result("unreadable")
        if not self._take(0, first, total):
            return self._result("moved")
        offsets = list(range(PAGE_SIZE, total, PAGE_SIZE))
        while True:
            found = list(self._records.values())
            if done is not None and done(found):
                return ScanResult(found, "stopped")
            if not offsets:
                # Every page held exactly its share of the total, none twice: all was read.
                return self._result("unreadable" if self._unreadable else None)
            window = self._window(offsets, total, concurrency)
            if not window:
                return self._result("budget")  # the next page does not fit in what the budget leaves
            del offsets[: len(window)]
            for offset, (page, page_total) in zip(window, fetch_pages(self._fetch, window), strict=True):
                if page_total != total or not self._take(offset, page, total):
                    return self._result("moved")

    def _fetch(self, offset: int) -> tuple[list[Any], int | None]:
        body = self._api.query_called_route({**self._filters, "limit": PAGE_SIZE, "offset": offset}, self._deadline)
        return _page(body)

    def _window(self, offsets: list[int], total: int, concurrency: int) -> list[int]:
        window: list[int] = []
        available = self._budget.max_records - self._budget.read
        for offset in offsets[: max(1, concurrency)]:
            size = min(PAGE_SIZE, total - offset)
            if size > available:
                break
            window.append(offset)
            available -= size
        return window

    def _take(self, offset: int, page: list[Any], total: int) -> bool:
        """Add one page; False when it contradicts the listing read so far."""
        self._budget.read += len(page)
        if len(page) != max(0, min(PAGE_SIZE, total - offset)):
            return False
        for record in map(parse_record, page):
            if record is None:
                self._unreadable += 1
            elif record.dnid in self._records:
                return False  # a repeat: the listing moved between two pages
            else:
                self._records[record.dnid] = record
        return True

    def _result(self, incomplete: Incomplete | None) -> ScanResult:
        return ScanResult(list(self._records.values()), incomplete)


def _page(body: object) -> tuple[list[Any], int | None]:
    if not isinstance(body, dict):
        raise UpstreamBadResponse("queryCalledRoute answered with a body that is not a JSON object.")
    code = body.get("returnCode")
    if str(code).strip() != "0":
        description = body.get("description") if isinstance(body.get("description"), str) else ""
        said = redact.mask(str(description)[:120])
        raise UpstreamBadResponse(f"queryCalledRoute answered returnCode {redact.mask(str(code)[:16])!r}: {said}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise UpstreamBadResponse("queryCalledRoute answered returnCode 0 without a data object.")
    total = _int(data.get("total"))
    page = data.get("calledRouteList")
    if page is None and total == 0:
        page = []  # an empty listing may leave its list out; its total says so
    if not isinstance(page, list):
        raise UpstreamBadResponse("queryCalledRoute answered without a calledRouteList list.")
    return page, total


def find_by(
    api: QueryApi,
    key: Callable[[RouteRecord], str],
    wanted: Iterable[str],
    *,
    budget: LookupBudget,
    deadline: Deadline,
    concurrency: int = 1,
) -> tuple[dict[str, RouteRecord], Incomplete | None]:
    """Records whose ``key`` is in ``wanted`` (by dnid or id), stopping once all are seen;
    and why a key not found may still exist (None: the listing was read in full)."""
    wanted_set = set(wanted)

    def all_found(records: list[RouteRecord]) -> bool:
        return wanted_set <= {key(r) for r in records}

    result = scan(api, {}, budget=budget, deadline=deadline, done=all_found, concurrency=concurrency)
    found = {key(r): r for r in result.records if key(r) in wanted_set}
    return found, None if len(found) == len(wanted_set) else result.incomplete


def find_routes(
    api: QueryApi,
    access_code: str,
    ext_code: str | None,
    *,
    budget: LookupBudget,
    deadline: Deadline,
    concurrency: int = 1,
) -> tuple[list[RouteRecord], Incomplete | None]:
    """Routes of ``access_code`` (all extensions when ``ext_code`` is None), filtered exactly;
    and why others may exist (None: the listing was read in full)."""
    result = scan(api, {"accessCode": access_code}, budget=budget, deadline=deadline, concurrency=concurrency)
    matches = [
        r for r in result.records if r.access_code == access_code and (ext_code is None or r.ext_code == ext_code)
    ]
    return matches, result.incomplete
