"""Applying a plan token: look its routes up again and keep only those still as approved.

A dnid is a small configuration number that the tenant hands out again after a route
is deleted, so the route behind a planned dnid may since have become another one.
deleteCalledRoute takes dnids, so the routes are looked up by dnid and the record
found there is compared with the approved snapshot (id, codes, target): a match is
sent, a different record is ``changed``, no record is ``already_absent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from function.budget import Deadline
from function.callers.auth import Caller
from function.callers.guards import Guards
from function.callers.plans import Plan, PlannedSnapshot
from function.callers.policies import Policy, check_routes
from function.cec.lookup import Incomplete, LookupBudget, QueryApi, RouteRecord, find_by
from function.deletion.outcomes import RouteOutcome
from function.errors import NotConfigured
from function.models import DEFAULT_TTL_SECONDS, DryRunResult


@dataclass
class Rechecked:
    order: list[str] = field(default_factory=list)  # planned dnids, in plan order
    records: dict[str, RouteRecord] = field(default_factory=dict)  # current record, else the snapshot
    held: dict[str, RouteOutcome] = field(default_factory=dict)  # not to be sent, and why
    incomplete: Incomplete | None = None
    plan_id: str | None = None


def snapshot_record(snapshot: PlannedSnapshot) -> RouteRecord:
    return RouteRecord(
        id=snapshot.id,
        dnid=snapshot.dnid,
        access_code=snapshot.access_code,
        ext_code=snapshot.ext_code,
        devicetype=snapshot.devicetype,
        device_id=snapshot.device_id,
        device_desc=None,
        media_type_id=None,
        editable=None,
    )


def recheck(api: QueryApi, plan: Plan, *, budget: LookupBudget, deadline: Deadline) -> Rechecked:
    result = Rechecked()
    found, result.incomplete = find_by(
        api, lambda r: r.dnid, [r.dnid for r in plan.routes], budget=budget, deadline=deadline
    )
    for snapshot in plan.routes:
        result.order.append(snapshot.dnid)
        current = found.get(snapshot.dnid)
        if current is not None and snapshot.matches(current):
            result.records[snapshot.dnid] = current
            continue
        result.records[snapshot.dnid] = snapshot_record(snapshot)
        if current is None:
            result.held[snapshot.dnid] = RouteOutcome("already_absent", "gone before this request; not sent")
        else:
            result.held[snapshot.dnid] = RouteOutcome("changed", _difference(snapshot, current))
    return result


def _difference(snapshot: PlannedSnapshot, current: RouteRecord) -> str:
    now = f"{current.access_code}+{current.ext_code or '(none)'}, id {current.id}"
    if current.id != snapshot.id:
        return f"dnid {snapshot.dnid} now belongs to another route ({now}); not sent"
    return f"the route was modified since the plan ({now}, target {current.devicetype}/{current.device_id}); not sent"


def verify_and_recheck(
    api: QueryApi,
    token: str,
    caller: Caller | None,
    guards: Guards | None,
    policy: Policy | None,
    *,
    budget: LookupBudget,
    deadline: Deadline,
) -> Rechecked:
    """Verify the token before any upstream call, hold it against the caller's policy
    (on the approved snapshot, so an out-of-policy plan costs no lookup), then look
    its routes up again."""
    signer = guards.signer(deadline) if guards is not None else None
    if signer is None or caller is None:
        raise NotConfigured("planToken needs PLAN_SIGNING_KEYS or PLAN_SIGNING_KEYS_SECRET to be set.")
    approved = signer.verify(token, caller.scope)
    if policy is not None:
        protected = guards.protected if guards is not None else None
        touched = [r for r in approved.routes if not (protected and protected.matches(r.access_code))]
        check_routes(policy, [(r.dnid, r.access_code, r.ext_code) for r in touched])
    result = recheck(api, approved, budget=budget, deadline=deadline)
    result.plan_id = approved.plan_id
    return result


def attach_token(
    result: DryRunResult,
    routes: list[RouteRecord],
    guards: Guards,
    caller: Caller,
    *,
    ttl_seconds: int | None,
    deadline: Deadline,
) -> None:
    """Put a plan token for ``routes`` (what a real request would send) on a dry run."""
    signer = guards.signer(deadline)
    if signer is None:
        return
    if not routes:
        result.plan_token_omitted = "nothing in this plan can be deleted"
    elif len(routes) > guards.max_plan_routes:
        result.plan_token_omitted = (
            f"the plan has {len(routes)} deletable routes; a plan token holds at most"
            f" {guards.max_plan_routes} (PLAN_MAX_ROUTES): narrow the selection"
        )
    else:
        token, approved = signer.issue(caller.scope, routes, ttl_seconds or DEFAULT_TTL_SECONDS)
        result.plan_token, result.plan_id = token, approved.plan_id
        result.plan_expires_at = approved.expires_at_rfc3339
