"""Paging on the documented contract: no record may be skipped and taken for deleted.

The upstream here is a small in-memory stand-in for queryCalledRoute (the CEC API, not
our code), so that deletions can be made to land exactly between two pages.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from function.budget import Deadline
from function.cec.lookup import MAX_PASSES, PAGE_SIZE, LookupBudget, find_by, scan
from function.errors import UpstreamBadResponse


class ShrinkingListing:
    """queryCalledRoute over ``count`` routes; after each page, ``delete_per_page`` of
    the routes already returned disappear, which moves every later record up.

    ``offset_mode`` is how the server reads ``offset``: "record" slices there, "page"
    rounds it down to a multiple of ``limit`` (the documented contract read literally),
    "page_index" takes it as a page number. ``order`` "shuffled" lists the routes in a
    new order on every call."""

    def __init__(
        self, count: int, delete_per_page: int, offset_mode: str = "page", order: str = "stable", total: bool = True
    ) -> None:
        self.dnids = list(range(1, count + 1))
        self.delete_per_page = delete_per_page
        self.offset_mode = offset_mode
        self.order = order
        self.with_total = total
        self.calls: list[dict[str, Any]] = []
        self.rng = random.Random(7)

    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        self.calls.append(body)
        offset, limit = body["offset"], body["limit"]
        start = {"record": offset, "page": offset - offset % limit, "page_index": offset * limit}[self.offset_mode]
        listing = list(self.dnids)
        if self.order == "shuffled":
            self.rng.shuffle(listing)
        page = listing[start : start + limit]
        data: dict[str, Any] = {
            "calledRouteList": [{"id": f"1{d:018d}", "dnid": d, "accessCode": "1", "extCode": ""} for d in page]
        }
        if self.with_total:
            data["total"] = len(self.dnids)
        for dnid in page[: self.delete_per_page]:
            self.dnids.remove(dnid)  # deleted by someone else before our next page
        return {"returnCode": "0", "data": data}


def test_only_documented_pages_are_asked_for() -> None:
    listing = ShrinkingListing(count=450, delete_per_page=0)
    result = scan(listing, {}, budget=LookupBudget(10_000), deadline=Deadline(10))
    assert result.complete and len(result.records) == 450
    assert [(c["offset"], c["limit"]) for c in listing.calls] == [(o, PAGE_SIZE) for o in (0, 100, 200, 300, 400)]


@pytest.mark.parametrize("offset_mode", ["page", "record"])
def test_page_and_record_offsets_read_the_same_listing(offset_mode: str) -> None:
    listing = ShrinkingListing(count=250, delete_per_page=0, offset_mode=offset_mode)
    found, incomplete = find_by(listing, lambda r: r.dnid, ["250"], budget=LookupBudget(10_000), deadline=Deadline(10))
    assert incomplete is None and set(found) == {"250"}


def test_deletions_between_pages_make_the_scan_incomplete_never_wrong() -> None:
    listing = ShrinkingListing(count=450, delete_per_page=10)
    result = scan(listing, {}, budget=LookupBudget(10_000), deadline=Deadline(10))
    assert result.incomplete == "moved"
    assert len(listing.calls) <= MAX_PASSES * 5


def test_a_listing_that_settles_is_read_in_full_on_the_next_pass() -> None:
    listing = ShrinkingListing(count=450, delete_per_page=10)
    first_pass = 2  # the deletions stop after the first two pages
    original = listing.query_called_route

    def settling(body: dict[str, Any], deadline: Deadline) -> Any:
        if len(listing.calls) >= first_pass:
            listing.delete_per_page = 0
        return original(body, deadline)

    listing.query_called_route = settling  # type: ignore[method-assign]
    result = scan(listing, {}, budget=LookupBudget(10_000), deadline=Deadline(10))
    assert result.complete
    assert {int(r.dnid) for r in result.records} == set(listing.dnids)


def test_shifts_make_an_unseen_route_unproven_not_absent() -> None:
    listing = ShrinkingListing(count=450, delete_per_page=15)
    found, incomplete = find_by(listing, lambda r: r.dnid, ["449"], budget=LookupBudget(10_000), deadline=Deadline(10))
    assert incomplete == "moved"  # "449" may exist: it was not seen, and the scan says so
    assert 449 in listing.dnids and "449" not in found


@pytest.mark.parametrize(
    ("listing", "why"),
    [
        (ShrinkingListing(count=250, delete_per_page=0, order="shuffled"), "moved"),
        (ShrinkingListing(count=250, delete_per_page=0, offset_mode="page_index"), "moved"),
        (ShrinkingListing(count=250, delete_per_page=0, total=False), "unreadable"),
    ],
    ids=["unstable-order", "offset-as-page-number", "no-total"],
)
def test_a_listing_that_cannot_be_proven_is_incomplete(listing: ShrinkingListing, why: str) -> None:
    found, incomplete = find_by(
        listing, lambda r: r.dnid, ["99999"], budget=LookupBudget(10_000), deadline=Deadline(10)
    )
    assert incomplete == why and not found


def test_one_page_with_its_total_is_the_whole_listing_even_shuffled() -> None:
    listing = ShrinkingListing(60, 0, order="shuffled")
    result = scan(listing, {}, budget=LookupBudget(10_000), deadline=Deadline(10))
    assert result.complete and len(result.records) == 60
    assert len(listing.calls) == 1


def test_without_a_total_even_a_short_page_proves_nothing() -> None:
    # A server that pages by 20 whatever limit says, and sends no total: the first 20
    # records must not be taken for the whole listing.
    class TwentyPerPage(ShrinkingListing):
        def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
            return super().query_called_route({**body, "limit": 20}, deadline)

    found, incomplete = find_by(
        TwentyPerPage(60, 0, total=False), lambda r: r.dnid, ["50"], budget=LookupBudget(10_000), deadline=Deadline(10)
    )
    assert incomplete == "unreadable" and not found


@pytest.mark.parametrize("data", [None, {}, {"total": 3}, {"calledRouteList": None, "total": 2}])
def test_an_answer_without_its_listing_is_refused(data: Any) -> None:
    class NoData(ShrinkingListing):
        def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
            return {"returnCode": "0", "data": data}

    with pytest.raises(UpstreamBadResponse):
        find_by(NoData(3, 0), lambda r: r.dnid, ["1"], budget=LookupBudget(10_000), deadline=Deadline(10))


def test_an_empty_listing_may_leave_its_list_out() -> None:
    class Empty(ShrinkingListing):
        def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
            return {"returnCode": "0", "data": {"total": 0}}

    found, incomplete = find_by(
        Empty(0, 0), lambda r: r.dnid, ["1"], budget=LookupBudget(10_000), deadline=Deadline(10)
    )
    assert incomplete is None and not found


def test_a_record_without_a_dnid_makes_the_scan_unreadable() -> None:
    class Odd(ShrinkingListing):
        def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
            answer = super().query_called_route(body, deadline)
            if body["offset"] == 100:
                answer["data"]["calledRouteList"][5]["dnid"] = "3.0"
            return answer

    _, incomplete = find_by(
        Odd(250, 0), lambda r: r.dnid, ["99999"], budget=LookupBudget(10_000), deadline=Deadline(10)
    )
    assert incomplete == "unreadable"


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
def test_parallel_pages_of_a_still_listing_are_read_in_full(concurrency: int) -> None:
    listing = ConcurrentShrinkingListing(count=900, delete_per_page=0, latency=0.02)
    result = scan(listing, {}, budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=concurrency)
    assert result.complete
    assert {int(r.dnid) for r in result.records} == set(listing.dnids)
    assert 1 < listing.most_in_flight <= concurrency  # parallel, and bounded


@pytest.mark.parametrize("concurrency", [2, 4])
def test_parallel_shifts_restart_then_say_incomplete(concurrency: int) -> None:
    listing = ConcurrentShrinkingListing(count=900, delete_per_page=5)
    found, incomplete = find_by(
        listing, lambda r: r.dnid, ["899"], budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=concurrency
    )
    assert incomplete == "moved"
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
    found, incomplete = find_by(
        listing, lambda r: r.dnid, ["150"], budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=4
    )
    assert incomplete is None and set(found) == {"150"}
    assert len(listing.calls) == 1 + 4  # the first page, then one window


def test_parallel_paging_keeps_the_record_budget() -> None:
    listing = ConcurrentShrinkingListing(count=10_000, delete_per_page=0, latency=0)
    budget = LookupBudget(1_000)
    found, incomplete = find_by(
        listing, lambda r: r.dnid, ["9999"], budget=budget, deadline=Deadline(10), concurrency=4
    )
    assert incomplete == "budget" and not found
    assert budget.read <= 1_000
    assert sum(c["limit"] for c in listing.calls) <= 1_000


class FailingListing(ConcurrentShrinkingListing):
    def query_called_route(self, body: dict[str, Any], deadline: Deadline) -> Any:
        if body["offset"] == 300:
            raise UpstreamBadResponse("page 4 is garbled")
        return super().query_called_route(body, deadline)


def test_a_failing_page_fails_the_scan_and_leaves_no_thread_behind() -> None:
    before = {t.ident for t in threading.enumerate()}
    listing = FailingListing(count=2_000, delete_per_page=0, latency=0.02)
    with pytest.raises(UpstreamBadResponse):
        scan(listing, {}, budget=LookupBudget(100_000), deadline=Deadline(10), concurrency=4)
    assert {t.ident for t in threading.enumerate()} == before
    assert listing.in_flight == 0  # every page in flight had finished when scan returned
