"""Looking called routes up with queryCalledRoute: paging, tolerant parsing, local filtering.

The server's filters are not reliably exact (the official example asks for extCode
"11" and gets "11", "" and "1" back), so they only narrow what is read; every match
is decided here. Each request has a record budget (``CEC_MAX_LOOKUP_RECORDS``) shared
by all its lookups, so no selector can make a request read a whole large tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from function import redact
from function.budget import Deadline
from function.cec.bounded import bounded_int
from function.cec.paging import fetch_pages
from function.errors import UpstreamBadResponse

PAGE_SIZE = 100  # the API's maximum
# Each page re-reads this many records of the previous one (see scan).
OVERLAP = 10
MAX_RESTARTS = 2
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


@dataclass
class ScanResult:
    records: list[RouteRecord]
    complete: bool  # False when the budget stopped the scan before the end


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

    Paging is by offset, and other requests delete routes while we read: every record
    after a deleted one moves up, so a plain offset walk skips records and a skipped
    record looks deleted. Each page therefore starts OVERLAP records early (duplicates
    are dropped by dnid), which covers as many deletions between two pages; when the
    reported total shrank by more than that, the scan starts over, and after
    MAX_RESTARTS it says it is incomplete rather than guess.

    With ``concurrency`` above 1, the pages after the first (which tells ``total``) are
    fetched that many at a time (see paging.py for why the guarantee still holds).
    """
    for _ in range(MAX_RESTARTS + 1):
        result = _scan_once(api, filters, budget=budget, deadline=deadline, done=done, concurrency=concurrency)
        if result is not None:
            return result
    return ScanResult([], complete=False)


def _scan_once(
    api: QueryApi,
    filters: dict[str, Any],
    *,
    budget: LookupBudget,
    deadline: Deadline,
    done: Callable[[list[RouteRecord]], bool] | None,
    concurrency: int,
) -> ScanResult | None:
    """One pass; None when the listing shifted more than the overlap covers."""
    pages = PageReader(api, filters, budget, deadline)
    while True:
        window = pages.plan(1 if pages.total is None else concurrency)
        if not window:
            # Not even one new record fits in what the budget leaves.
            return ScanResult(pages.found(), complete=False)
        answers = fetch_pages(pages.fetch, window)
        if not pages.take(window, answers):
            return None
        found = pages.found()
        if pages.at_end:
            return ScanResult(found, complete=True)
        if done is not None and done(found):
            return ScanResult(found, complete=True)


class PageReader:
    """The state of one pass: what was read, the totals seen, and where to read next.

    Only the request's own thread touches it; worker threads just fetch pages.
    """

    def __init__(self, api: QueryApi, filters: dict[str, Any], budget: LookupBudget, deadline: Deadline) -> None:
        self._api = api
        self._filters = filters
        self._budget = budget
        self._deadline = deadline
        self._records: dict[str, RouteRecord] = {}
        self._last_total: int | None = None  # of the rightmost page read so far
        self.total: int | None = None
        self.covered = 0  # records 0..covered were read (modulo shifts the overlap covers)
        self.at_end = False

    def plan(self, count: int) -> list[tuple[int, int]]:
        """Up to ``count`` (offset, limit) pages, each starting OVERLAP records before the
        previous one ends, within the record budget and the last known total."""
        window: list[tuple[int, int]] = []
        available = self._budget.max_records - self._budget.read
        covered = self.covered
        for _ in range(count):
            start = max(0, covered - OVERLAP)
            limit = min(PAGE_SIZE, available)
            if limit <= covered - start:
                break
            if window and self.total is not None and covered >= self.total:
                break
            window.append((start, limit))
            available -= limit
            covered = start + limit
        return window

    def fetch(self, start: int, limit: int) -> tuple[list[Any], int | None]:
        return _page(self._api.query_called_route({**self._filters, "limit": limit, "offset": start}, self._deadline))

    def take(self, window: list[tuple[int, int]], answers: list[tuple[list[Any], int | None]]) -> bool:
        """Add a window's pages; False when the listing shifted more than the overlap covers.

        A record is skipped only if it moved left past a page boundary between the reads
        of the two pages beside that boundary, and it moves at most as far as the listing
        shrank meanwhile. So each pair of neighbouring pages is checked: across windows
        (the left one was read first) by how much the total shrank; within a window (read
        in no known order) by how much it changed. With one page per window this is the
        sequential check of before.
        """
        self._budget.read += sum(len(page) for page, _ in answers)
        totals = [self._last_total] + [total for _, total in answers]
        for i in range(len(totals) - 1):
            left, right = totals[i], totals[i + 1]
            if left is None or right is None:
                continue
            if (left - right if i == 0 else abs(left - right)) > OVERLAP:
                return False
        for (start, limit), (page, total) in zip(window, answers, strict=True):
            for record in map(parse_record, page):
                if record is not None:
                    self._records.setdefault(record.dnid, record)
            end = start + len(page)
            if not page or len(page) < limit or (total is not None and end >= total):
                self.at_end = True
            self.covered = end
            if total is not None:
                self._last_total = self.total = total
        return True

    def found(self) -> list[RouteRecord]:
        return list(self._records.values())


def _page(body: object) -> tuple[list[Any], int | None]:
    if not isinstance(body, dict):
        raise UpstreamBadResponse("queryCalledRoute answered with a body that is not a JSON object.")
    code = body.get("returnCode")
    if str(code).strip() != "0":
        description = body.get("description") if isinstance(body.get("description"), str) else ""
        said = redact.mask(str(description)[:120])
        raise UpstreamBadResponse(f"queryCalledRoute answered returnCode {redact.mask(str(code)[:16])!r}: {said}")
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise UpstreamBadResponse("queryCalledRoute answered with a data field that is not an object.")
    page = data.get("calledRouteList") or []
    if not isinstance(page, list):
        raise UpstreamBadResponse("queryCalledRoute answered with a calledRouteList that is not a list.")
    return page, _int(data.get("total"))


def find_by(
    api: QueryApi,
    key: Callable[[RouteRecord], str],
    wanted: Iterable[str],
    *,
    budget: LookupBudget,
    deadline: Deadline,
    concurrency: int = 1,
) -> tuple[dict[str, RouteRecord], bool]:
    """Records whose ``key`` is in ``wanted`` (by dnid or id), stopping once all are seen."""
    wanted_set = set(wanted)

    def all_found(records: list[RouteRecord]) -> bool:
        return wanted_set <= {key(r) for r in records}

    result = scan(api, {}, budget=budget, deadline=deadline, done=all_found, concurrency=concurrency)
    found = {key(r): r for r in result.records if key(r) in wanted_set}
    return found, result.complete or len(found) == len(wanted_set)


def find_routes(
    api: QueryApi,
    access_code: str,
    ext_code: str | None,
    *,
    budget: LookupBudget,
    deadline: Deadline,
    concurrency: int = 1,
) -> tuple[list[RouteRecord], bool]:
    """Routes of ``access_code`` (all extensions when ``ext_code`` is None), filtered exactly."""
    result = scan(api, {"accessCode": access_code}, budget=budget, deadline=deadline, concurrency=concurrency)
    matches = [
        r for r in result.records if r.access_code == access_code and (ext_code is None or r.ext_code == ext_code)
    ]
    return matches, result.complete
