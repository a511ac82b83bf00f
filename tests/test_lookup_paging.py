"""Paging while other requests delete: no record may be skipped and taken for deleted.

The upstream here is a small in-memory stand-in for queryCalledRoute (the CEC API, not
our code), so that deletions can be made to land exactly between two pages.
"""

from __future__ import annotations

from typing import Any

from function.budget import Deadline
from function.lookup import OVERLAP, LookupBudget, find_by, scan


class ShrinkingListing:
    """queryCalledRoute over ``count`` routes; after each page, ``delete_per_page`` of
    the routes already returned disappear, which moves every later record up."""

    def __init__(self, count: int, delete_per_page: int) -> None:
        self.dnids = list(range(1, count + 1))
        self.delete_per_page = delete_per_page
        self.calls: list[dict[str, Any]] = []

    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        self.calls.append(body)
        start, limit = body["offset"], body["limit"]
        page = self.dnids[start : start + limit]
        answer = {
            "returnCode": "0",
            "data": {
                "total": len(self.dnids),
                "calledRouteList": [{"id": f"1{d:018d}", "dnid": d, "accessCode": "1", "extCode": ""} for d in page],
            },
        }
        for dnid in page[: self.delete_per_page]:
            self.dnids.remove(dnid)  # deleted by someone else before our next page
        return answer


def test_deletions_between_pages_within_the_overlap_skip_nothing() -> None:
    listing = ShrinkingListing(count=450, delete_per_page=OVERLAP)
    survivors_at_end = set(range(1, 451))
    result = scan(listing, {}, budget=LookupBudget(10_000), deadline=Deadline(10))
    assert result.complete
    seen = {int(r.dnid) for r in result.records}
    # Every route that still existed when the scan ended was seen.
    survivors_at_end &= set(listing.dnids)
    assert survivors_at_end <= seen


def test_a_plain_offset_walk_would_have_skipped() -> None:
    # The same listing read without overlap loses records: the reason for OVERLAP.
    listing = ShrinkingListing(count=450, delete_per_page=OVERLAP)
    seen: set[int] = set()
    offset = 0
    while True:
        page = listing.query_called_route({"offset": offset, "limit": 100}, Deadline(10))["data"]["calledRouteList"]
        seen |= {r["dnid"] for r in page}
        offset += len(page)
        if len(page) < 100:
            break
    assert set(listing.dnids) - seen


def test_shifts_beyond_the_overlap_make_the_scan_incomplete_not_wrong() -> None:
    listing = ShrinkingListing(count=450, delete_per_page=OVERLAP + 5)
    found, complete = find_by(listing, lambda r: r.dnid, ["449"], budget=LookupBudget(10_000), deadline=Deadline(10))
    assert not complete  # "449" may exist: it was not seen, and the scan says so
    assert 449 in listing.dnids and "449" not in found
