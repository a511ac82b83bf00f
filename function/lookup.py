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
from function.bounded import bounded_int
from function.budget import Deadline
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
) -> ScanResult:
    """Page through queryCalledRoute with ``filters`` until the end, ``done``, or the budget.

    Paging is by offset, and other requests delete routes while we read: every record
    after a deleted one moves up, so a plain offset walk skips records and a skipped
    record looks deleted. Each page therefore starts OVERLAP records early (duplicates
    are dropped by dnid), which covers as many deletions between two pages; when the
    reported total shrank by more than that, the scan starts over, and after
    MAX_RESTARTS it says it is incomplete rather than guess.
    """
    for _ in range(MAX_RESTARTS + 1):
        result = _scan_once(api, filters, budget=budget, deadline=deadline, done=done)
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
) -> ScanResult | None:
    """One pass; None when the listing shifted more than the overlap covers."""
    records: dict[str, RouteRecord] = {}
    offset = 0
    last_total: int | None = None
    while True:
        limit = min(PAGE_SIZE, budget.max_records - budget.read)
        start = max(0, offset - OVERLAP)
        if limit <= offset - start:
            # Not even one new record fits in what the budget leaves.
            return ScanResult(list(records.values()), complete=False)
        page, total = _page(api.query_called_route({**filters, "limit": limit, "offset": start}, deadline))
        budget.read += len(page)
        if last_total is not None and total is not None and last_total - total > OVERLAP:
            return None
        last_total = total if total is not None else last_total
        for record in map(parse_record, page):
            if record is not None:
                records.setdefault(record.dnid, record)
        offset = start + len(page)
        found = list(records.values())
        if not page or len(page) < limit or (total is not None and offset >= total):
            return ScanResult(found, complete=True)
        if done is not None and done(found):
            return ScanResult(found, complete=True)


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
) -> tuple[dict[str, RouteRecord], bool]:
    """Records whose ``key`` is in ``wanted`` (by dnid or id), stopping once all are seen."""
    wanted_set = set(wanted)

    def all_found(records: list[RouteRecord]) -> bool:
        return wanted_set <= {key(r) for r in records}

    result = scan(api, {}, budget=budget, deadline=deadline, done=all_found)
    found = {key(r): r for r in result.records if key(r) in wanted_set}
    return found, result.complete or len(found) == len(wanted_set)


def find_routes(
    api: QueryApi,
    access_code: str,
    ext_code: str | None,
    *,
    budget: LookupBudget,
    deadline: Deadline,
) -> tuple[list[RouteRecord], bool]:
    """Routes of ``access_code`` (all extensions when ``ext_code`` is None), filtered exactly."""
    result = scan(api, {"accessCode": access_code}, budget=budget, deadline=deadline)
    matches = [
        r for r in result.records if r.access_code == access_code and (ext_code is None or r.ext_code == ext_code)
    ]
    return matches, result.complete
