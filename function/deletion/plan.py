"""What a request selects: its selector resolved into a plan of routes.

A plain ``dnids`` delete is planned without any lookup (the hot path); every other
selector, a dry run, or a policy that needs the routes' codes looks them up first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from function.budget import Deadline
from function.callers.guards import LookupFirst
from function.cec.client import CecClient
from function.cec.lookup import MAX_PASSES, Incomplete, LookupBudget, RouteRecord, find_by, find_routes
from function.cec.results import BatchAnswer
from function.deletion.outcomes import RouteOutcome
from function.errors import FunctionError, UpstreamBadResponse, UpstreamCallLimitExceeded
from function.models import DeleteRequest, UnmatchedSelector


class LookupLimitExceeded(FunctionError):
    status, code, title = 422, "lookup_limit_exceeded", "The selection needs more lookups than allowed"


class ListingUnstable(FunctionError):
    status, code, title, retryable = 503, "listing_unstable", "The route listing changed while it was read", True


@dataclass
class Plan:
    """The routes a request selects, as far as a lookup could tell."""

    requested: list[tuple[str, str]]  # ("dnid" | "id" | "record", key) in request order
    records: dict[str, RouteRecord] = field(default_factory=dict)  # dnid -> record
    by_id: dict[str, RouteRecord] = field(default_factory=dict)
    not_found: list[UnmatchedSelector] = field(default_factory=list)
    looked_up: bool = False
    held: dict[str, RouteOutcome] = field(default_factory=dict)  # never sent: protected, changed
    plan_id: str | None = None
    # dnids sent without a record: the lookup before the delete did not see them.
    unrecorded: list[str] = field(default_factory=list)

    @property
    def sendable(self) -> list[str]:
        if not self.looked_up:
            return [key for _, key in self.requested]
        records = [dnid for dnid, record in self.records.items() if record.deletable and dnid not in self.held]
        return records + [dnid for dnid in self.unrecorded if dnid not in self.held]


@dataclass
class BatchRun:
    dnids: list[str]
    answer: BatchAnswer | None = None
    error: FunctionError | None = None
    # Never sent: the call failed before its first attempt went out (no token, no
    # upstream calls left), so its routes are untouched.
    unsent: FunctionError | None = None


def codes(plan: Plan, dnid: str) -> tuple[str, str, str]:
    record = plan.records.get(dnid)
    return (dnid, record.access_code, record.ext_code) if record is not None else (dnid, "", "")


def resolve(
    client: CecClient,
    request: DeleteRequest,
    *,
    budget: LookupBudget,
    deadline: Deadline,
    lookup_first: LookupFirst = None,
    concurrency: int = 1,
) -> Plan:
    """Turn the selector into a plan. A dnids delete skips the lookup only when
    ``lookup_first`` is None; with "records" it goes ahead when the lookup cannot finish,
    sending the dnids it did not see without a record (``unrecorded``)."""
    if request.dnids is not None and not request.dry_run and lookup_first is None:
        return Plan(requested=[("dnid", d) for d in request.dnids])
    plan = Plan(requested=[], looked_up=True)
    if request.dnids is not None or request.ids is not None:
        by_id = request.ids is not None
        wanted = request.ids if by_id else request.dnids
        assert wanted is not None
        records_only = lookup_first == "records" and not by_id and not request.dry_run
        try:
            found, incomplete = find_by(
                client,
                (lambda r: r.id) if by_id else (lambda r: r.dnid),
                wanted,
                budget=budget,
                deadline=deadline,
                concurrency=concurrency,
            )
        except UpstreamCallLimitExceeded:
            if not records_only:
                raise
            found, incomplete = {}, "budget"  # the calls ran out: the deletion goes without records
        unseen_sent = incomplete is not None and records_only
        if not unseen_sent:
            require_complete(incomplete, budget)
        for key in wanted:
            record = found.get(key)
            plan.requested.append(("id" if by_id else "dnid", key))
            if record is None and unseen_sent:
                plan.unrecorded.append(key)
            elif record is None:
                plan.not_found.append(UnmatchedSelector(id=key) if by_id else UnmatchedSelector(dnid=key))
            else:
                plan.records.setdefault(record.dnid, record)
                plan.by_id[record.id] = record
        return plan
    assert request.routes is not None
    # Duplicate selectors count once, and every selector of one access code is matched
    # from one scan of it (all extensions): the calls grow with distinct access codes,
    # not with the length of the list.
    selectors = list(dict.fromkeys((s.access_code, s.ext_code) for s in request.routes))
    scanned: dict[str, list[RouteRecord]] = {}
    for access_code in dict.fromkeys(code for code, _ in selectors):
        records, incomplete = find_routes(
            client, access_code, None, budget=budget, deadline=deadline, concurrency=concurrency
        )
        require_complete(incomplete, budget)
        scanned[access_code] = records
    for access_code, ext_code in selectors:
        matches = [r for r in scanned[access_code] if ext_code is None or r.ext_code == ext_code]
        if not matches:
            plan.not_found.append(UnmatchedSelector(access_code=access_code, ext_code=ext_code))
        for record in matches:
            if record.dnid not in plan.records:
                plan.records[record.dnid] = record
                plan.requested.append(("record", record.dnid))
    return plan


def require_complete(incomplete: Incomplete | None, budget: LookupBudget) -> None:
    """Refuse a selection that rests on a listing not read in full."""
    if incomplete == "budget":
        raise LookupLimitExceeded(
            f"Resolving the selection would read more than {budget.max_records} records"
            " (CEC_MAX_LOOKUP_RECORDS); select by routes with an accessCode, or raise the limit."
        )
    if incomplete == "moved":
        raise ListingUnstable(
            f"queryCalledRoute's listing changed while it was read ({MAX_PASSES} attempts: routes"
            " created or deleted meanwhile, an order that is not stable between calls, or a server"
            " that does not page as documented), so which routes exist cannot be told. Nothing was"
            " deleted; retry, or select by routes with an accessCode (a shorter listing); if it"
            " persists, scripts/probe_tenant.py tells how the tenant pages."
        )
    if incomplete is not None:
        raise UpstreamBadResponse(
            "queryCalledRoute answered records without a usable dnid, or no readable total, so"
            " which routes exist cannot be told. Nothing was deleted; run scripts/probe_tenant.py"
            " to see the answers' shape."
        )
