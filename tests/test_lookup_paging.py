"""Paging while other requests delete: no record may be skipped and taken for deleted.

The upstream here is a small in-memory stand-in for queryCalledRoute (the CEC API, not
our code), so that deletions can be made to land exactly between two pages.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from function.budget import Deadline
from function.cec.lookup import OVERLAP, LookupBudget, find_by, scan
from function.errors import UpstreamBadResponse


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


# Parallel paging (CEC_LOOKUP_CONCURRENCY): the same guarantees with pages in flight at once.


class ConcurrentShrinkingListing(ShrinkingListing):
    """The same listing, safe to call from several threads; each call takes ``latency``
    seconds, so pages of one window are really in flight together."""

    def __init__(self, count: int, delete_per_page: int, latency: float = 0.002) -> None:
        super().__init__(count, delete_per_page)
        self.latency = latency
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.latency)
        with self.lock:
            self.in_flight -= 1
            return super().query_called_route(body, deadline)


@pytest.mark.parametrize("concurrency", [2, 4, 8])
def test_parallel_pages_skip_nothing_when_deletions_stay_within_the_overlap(concurrency: int) -> None:
    # A window of C pages sees up to C x delete_per_page deletions, so keep the
    # per-window shrink within OVERLAP.
    listing = ConcurrentShrinkingListing(count=900, delete_per_page=OVERLAP // concurrency, latency=0.02)
    result = scan(listing, {}, budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=concurrency)
    assert result.complete
    seen = {int(r.dnid) for r in result.records}
    assert set(listing.dnids) <= seen
    assert 1 < listing.most_in_flight <= concurrency  # parallel, and bounded


@pytest.mark.parametrize("concurrency", [2, 4])
def test_parallel_shifts_beyond_the_overlap_restart_then_say_incomplete(concurrency: int) -> None:
    listing = ConcurrentShrinkingListing(count=900, delete_per_page=OVERLAP + 5)
    found, complete = find_by(
        listing, lambda r: r.dnid, ["899"], budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=concurrency
    )
    assert not complete
    assert 899 in listing.dnids and "899" not in found


def test_parallel_paging_reads_what_sequential_paging_reads() -> None:
    sequential = ConcurrentShrinkingListing(count=10_000, delete_per_page=0, latency=0)
    parallel = ConcurrentShrinkingListing(count=10_000, delete_per_page=0, latency=0)
    last = "10000"
    found_1, _ = find_by(sequential, lambda r: r.dnid, [last], budget=LookupBudget(100_000), deadline=Deadline(10))
    found_4, _ = find_by(
        parallel, lambda r: r.dnid, [last], budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=4
    )
    assert found_1.keys() == found_4.keys() == {last}
    assert sorted(c["offset"] for c in parallel.calls) == sorted(c["offset"] for c in sequential.calls)


def test_parallel_paging_stops_early_within_one_window() -> None:
    listing = ConcurrentShrinkingListing(count=10_000, delete_per_page=0, latency=0)
    found, complete = find_by(
        listing, lambda r: r.dnid, ["150"], budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=4
    )
    assert complete and set(found) == {"150"}
    assert len(listing.calls) == 1 + 4  # the first page, then one window


def test_parallel_paging_keeps_the_record_budget() -> None:
    listing = ConcurrentShrinkingListing(count=10_000, delete_per_page=0, latency=0)
    budget = LookupBudget(1_000)
    found, complete = find_by(listing, lambda r: r.dnid, ["9999"], budget=budget, deadline=Deadline(10), concurrency=4)
    assert not complete and not found
    assert budget.read <= 1_000
    assert sum(c["limit"] for c in listing.calls) <= 1_000


class FailingListing(ConcurrentShrinkingListing):
    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        if body["offset"] == 270:
            raise UpstreamBadResponse("page 4 is garbled")
        return super().query_called_route(body, deadline)


def test_a_failing_page_fails_the_scan_and_leaves_no_thread_behind() -> None:
    before = {t.ident for t in threading.enumerate()}
    listing = FailingListing(count=2_000, delete_per_page=0, latency=0.02)
    with pytest.raises(UpstreamBadResponse):
        scan(listing, {}, budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=4)
    assert {t.ident for t in threading.enumerate()} == before
    assert listing.in_flight == 0  # every page in flight had finished when scan returned
