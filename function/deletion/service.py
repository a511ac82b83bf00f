"""What a request does: resolve its selector, plan, delete in batches, and say what happened.

The plain ``dnids`` delete is the hot path and costs no lookup. Lookups happen only
for the other selectors, for dry runs, and after an answer that is not a clean
"everything deleted" (to turn names and refusals into per-route outcomes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from function import log
from function.budget import Deadline
from function.callers import audit
from function.callers.auth import Caller
from function.callers.guards import Guards
from function.callers.policies import check_request, check_routes
from function.cec.client import CecClient
from function.cec.lookup import DEVICE_TYPES, LookupBudget, RouteRecord, find_by, find_routes
from function.cec.results import BatchAnswer, parse_delete_answer
from function.deletion import call_limit
from function.deletion.outcomes import SUCCESS, RouteOutcome, assign, is_clean
from function.deletion.plan_apply import attach_token, verify_and_recheck
from function.dnids import to_api_form
from function.errors import FunctionError, InvalidRequest, UpstreamCallLimitExceeded
from function.models import (
    BatchResult,
    DeleteRequest,
    DeleteResult,
    DryRunResult,
    PlannedRoute,
    RouteResult,
    Target,
    UnmatchedSelector,
)

HTTP_STATUS = {"deleted": 200, "partial": 207, "failed": 422}


class LookupLimitExceeded(FunctionError):
    status, code, title = 422, "lookup_limit_exceeded", "The selection needs more lookups than allowed"


@dataclass(frozen=True)
class Answer:
    body: DeleteResult | DryRunResult
    http_status: int

    @property
    def settled(self) -> bool:
        """Whether the same request would get the same answer: no batch left without
        an answer and no route whose fate is unknown. Only such answers are replayed."""
        if not isinstance(self.body, DeleteResult):
            return True
        if any(b.status in ("error", "not_sent") for b in self.body.batches):
            return False
        return not any(r.outcome in ("unknown", "not_sent") for r in self.body.results or [])


@dataclass
class Plan:
    """The routes a request selects, as far as a lookup could tell."""

    requested: list[tuple[str, str]]  # ("dnid" | "id" | "record", key) in request order
    records: dict[str, RouteRecord] = field(default_factory=dict)  # dnid -> record
    by_id: dict[str, RouteRecord] = field(default_factory=dict)
    not_found: list[UnmatchedSelector] = field(default_factory=list)
    looked_up: bool = False
    held: dict[str, RouteOutcome] = field(default_factory=dict)  # never sent: protected, changed (issue 13)
    plan_id: str | None = None

    @property
    def sendable(self) -> list[str]:
        if not self.looked_up:
            return [key for _, key in self.requested]
        return [dnid for dnid, record in self.records.items() if record.deletable and dnid not in self.held]


@dataclass
class BatchRun:
    dnids: list[str]
    answer: BatchAnswer | None = None
    error: FunctionError | None = None
    # Never sent: CEC_MAX_UPSTREAM_CALLS was reached before its first attempt.
    refused: UpstreamCallLimitExceeded | None = None


def execute(
    client: CecClient,
    request: DeleteRequest,
    *,
    batch_size: int,
    max_lookup_records: int,
    max_dnids: int,
    deadline: Deadline,
    request_id: str,
    caller: Caller | None = None,
    guards: Guards | None = None,
    max_upstream_calls: int | None = None,
    lookup_concurrency: int = 1,
) -> Answer:
    budget = LookupBudget(max_lookup_records)
    call_limit.start(max_upstream_calls)
    policy = guards.policy(caller.principal, deadline) if guards is not None and caller is not None else None
    if policy is not None:
        check_request(policy, dry_run=request.dry_run, with_plan=request.plan_token is not None)
    fewest = call_limit.fewest_lookup_calls(request)
    if request.dnids is not None and not request.dry_run:
        fewest = call_limit.fewest_delete_calls(len(request.dnids), batch_size)
    call_limit.require(fewest, "Resolving and deleting this selection")
    if request.plan_token is not None:
        rechecked = verify_and_recheck(
            client, request.plan_token, caller, guards, policy, budget=budget, deadline=deadline
        )
        _require(rechecked.complete, budget)
        plan = Plan(
            requested=[("record", dnid) for dnid in rechecked.order],
            records=rechecked.records,
            looked_up=True,
            held=rechecked.held,
            plan_id=rechecked.plan_id,
        )
    else:
        lookup_first = guards is not None and guards.lookup_first(policy)
        plan = resolve(
            client,
            request,
            budget=budget,
            deadline=deadline,
            lookup_first=lookup_first,
            concurrency=lookup_concurrency,
        )
    if guards is not None and guards.protected:
        for dnid, record in plan.records.items():
            if guards.protected.matches(record.access_code):
                plan.held[dnid] = RouteOutcome("protected", "in PROTECTED_ACCESS_CODES: never sent to the API")
    sendable = plan.sendable
    if len(sendable) > max_dnids:
        raise InvalidRequest(f"The selection matches {len(sendable)} routes; at most {max_dnids} (MAX_DNIDS).")
    if policy is not None:
        check_routes(policy, [_codes(plan, dnid) for dnid in sendable])
    if request.dry_run:
        preview = dry_run_result(plan, request_id)
        if guards is not None and caller is not None:
            routes = [plan.records[d] for d in sendable]
            attach_token(preview, routes, guards, caller, ttl_seconds=request.plan_ttl_seconds, deadline=deadline)
        return Answer(preview, 200)
    if plan.looked_up:
        call_limit.require(call_limit.fewest_delete_calls(len(sendable), batch_size), "Deleting the selected routes")

    runs = run_batches(client, sendable, batch_size=batch_size, deadline=deadline)
    fault = next((run.error or run.refused for run in runs if run.error or run.refused), None)
    deleted_any = any(run.answer and run.answer.status in ("deleted", "partial") for run in runs)
    if fault is not None and not deleted_any and not plan.looked_up:
        # Nothing is known to be gone and the caller named the routes itself: the
        # problem is the answer, and sending the same dnids again converges.
        raise fault
    outcomes = settle(client, plan, runs, budget=budget, deadline=deadline, concurrency=lookup_concurrency)
    if fault is not None and not deleted_any and outcomes is not None and _untouched(sendable, outcomes):
        # Every route the failed call carried is verifiably still there: nothing
        # happened, and the problem (often retryable) says more than a 422 would.
        raise fault
    batches = [_batch_result(run) for run in runs]
    results = _route_results(plan, outcomes) if outcomes is not None else None
    status = _status(batches, results)
    result = DeleteResult(
        status=status,
        dnids=sendable,
        deleted=[name for run in runs if run.answer for name in run.answer.deleted],
        failed=[name for run in runs if run.answer for name in run.answer.failed],
        ids=[i for run in runs if run.answer for i in run.answer.ids],
        batches=batches,
        results=results,
        not_found=plan.not_found if plan.looked_up else None,
        plan_id=plan.plan_id,
        request_id=request_id,
    )
    if caller is not None:
        audit.audit_result(result, plan.records if plan.looked_up else None, caller, request.selector, plan.plan_id)
    return Answer(result, HTTP_STATUS[status])


def _codes(plan: Plan, dnid: str) -> tuple[str, str, str]:
    record = plan.records.get(dnid)
    return (dnid, record.access_code, record.ext_code) if record is not None else (dnid, "", "")


def resolve(
    client: CecClient,
    request: DeleteRequest,
    *,
    budget: LookupBudget,
    deadline: Deadline,
    lookup_first: bool = False,
    concurrency: int = 1,
) -> Plan:
    """Turn the selector into a plan; only a dnids delete skips the lookup (unless a
    policy on access codes or protected hotlines need the routes' codes first)."""
    if request.dnids is not None and not request.dry_run and not lookup_first:
        return Plan(requested=[("dnid", d) for d in request.dnids])
    plan = Plan(requested=[], looked_up=True)
    if request.dnids is not None or request.ids is not None:
        by_id = request.ids is not None
        wanted = request.ids if by_id else request.dnids
        assert wanted is not None
        found, complete = find_by(
            client,
            (lambda r: r.id) if by_id else (lambda r: r.dnid),
            wanted,
            budget=budget,
            deadline=deadline,
            concurrency=concurrency,
        )
        _require(complete, budget)
        for key in wanted:
            record = found.get(key)
            plan.requested.append(("id" if by_id else "dnid", key))
            if record is None:
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
        records, complete = find_routes(
            client, access_code, None, budget=budget, deadline=deadline, concurrency=concurrency
        )
        _require(complete, budget)
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


def _require(complete: bool, budget: LookupBudget) -> None:
    if not complete:
        raise LookupLimitExceeded(
            f"Resolving the selection would read more than {budget.max_records} records"
            " (CEC_MAX_LOOKUP_RECORDS); select by routes with an accessCode, or raise the limit."
        )


def run_batches(client: CecClient, dnids: list[str], *, batch_size: int, deadline: Deadline) -> list[BatchRun]:
    """Send the batches one after another. An upstream fault is kept on its batch and
    stops the run (the rest are not sent); execute() decides whether it becomes the
    answer or one batch of a result."""
    runs = [BatchRun(dnids[i : i + batch_size]) for i in range(0, len(dnids), batch_size)]
    for run in runs:
        sent_before = _delete_attempts()
        try:
            run.answer = parse_delete_answer(client.delete_called_route(to_api_form(run.dnids), deadline))
        except UpstreamCallLimitExceeded as exc:
            if _delete_attempts() == sent_before:
                run.refused = exc  # nothing went out: its routes are untouched, not unknown
            else:
                run.error = exc
            break
        except FunctionError as exc:
            # A call that got no answer may still have deleted: with a selector, the
            # lookup after it tells, and raising here would hide those deletions.
            run.error = exc
            break
    return runs


def _delete_attempts() -> int:
    ctx = log.current()
    return ctx.upstream_calls.get("delete", 0) if ctx is not None else 0


def _untouched(sent: list[str], outcomes: dict[str, RouteOutcome]) -> bool:
    return all(outcomes[dnid].outcome in ("failed", "not_sent") for dnid in sent if dnid in outcomes)


def settle(
    client: CecClient,
    plan: Plan,
    runs: list[BatchRun],
    *,
    budget: LookupBudget,
    deadline: Deadline,
    concurrency: int = 1,
) -> dict[str, RouteOutcome] | None:
    """Per-dnid outcomes, or None on the clean hot path (no lookup made, none needed)."""
    unclean = [run for run in runs if not is_clean(run.dnids, run.answer)]
    if not unclean and not plan.looked_up:
        return None
    after: dict[str, RouteRecord] | None = None
    to_check = [d for run in unclean if run.answer is not None or run.error is not None for d in run.dnids]
    if to_check:
        try:
            found, complete = find_by(
                client, lambda r: r.dnid, to_check, budget=budget, deadline=deadline, concurrency=concurrency
            )
            after = found if complete else None
        except FunctionError:
            after = None  # the outcomes say "unknown" where they cannot be told otherwise
    outcomes: dict[str, RouteOutcome] = {}
    for run in runs:
        error = f"{run.error.code}: {run.error.detail}" if run.error else None
        outcomes.update(assign(run.dnids, run.answer, error=error, known=plan.records, after=after))
        if run.refused is not None:
            refused = RouteOutcome("not_sent", f"{run.refused.code}: {run.refused.detail}")
            outcomes.update(dict.fromkeys(run.dnids, refused))
    if plan.looked_up:
        for dnid, record in plan.records.items():
            if not record.deletable:
                outcomes[dnid] = RouteOutcome("protected", f"editable={record.editable}: never sent to the API")
    elif after:
        # The routes that are still there can now be shown with their codes.
        plan.records.update(after)
    outcomes.update(plan.held)
    return outcomes


def _route_results(plan: Plan, outcomes: dict[str, RouteOutcome]) -> list[RouteResult]:
    results: list[RouteResult] = []
    for kind, key in plan.requested:
        record = plan.by_id.get(key) if kind == "id" else plan.records.get(key)
        if record is None and kind == "id":
            results.append(RouteResult(dnid=None, id=key, access_code=None, ext_code=None, outcome="already_absent"))
            continue
        dnid = record.dnid if record is not None else key
        outcome = outcomes.get(dnid) or RouteOutcome("already_absent")
        results.append(
            RouteResult(
                dnid=dnid,
                id=record.id if record else None,
                access_code=record.access_code if record else None,
                ext_code=record.ext_code if record else None,
                outcome=outcome.outcome,
                description=outcome.description,
            )
        )
    return results


def _status(batches: list[BatchResult], results: list[RouteResult] | None) -> Literal["deleted", "partial", "failed"]:
    if results is not None:
        outcomes = {r.outcome for r in results}
        if outcomes <= SUCCESS:
            return "deleted"
        # "failed" promises that every route still exists (or was never sent); an
        # unverified route might be gone, so anything less certain is partial.
        return "failed" if outcomes <= {"failed", "protected", "changed", "not_sent"} else "partial"
    statuses = {b.status for b in batches}
    if statuses == {"deleted"}:
        return "deleted"
    return "partial" if statuses & {"deleted", "partial"} else "failed"


def _batch_result(run: BatchRun) -> BatchResult:
    if run.answer is not None:
        answer = run.answer
        return BatchResult(
            dnids=run.dnids, return_code=answer.return_code, description=answer.description, status=answer.status
        )
    if run.error is not None:
        return BatchResult(
            dnids=run.dnids, return_code=None, description=f"{run.error.code}: {run.error.detail}", status="error"
        )
    description = f"{run.refused.code}: {run.refused.detail}" if run.refused else None
    return BatchResult(dnids=run.dnids, return_code=None, description=description, status="not_sent")


def _reason(plan: Plan, record: RouteRecord) -> str | None:
    held = plan.held.get(record.dnid)
    if held is not None:
        return held.description
    return None if record.deletable else f"editable={record.editable}"


def dry_run_result(plan: Plan, request_id: str) -> DryRunResult:
    planned = [
        PlannedRoute(
            dnid=r.dnid,
            id=r.id,
            access_code=r.access_code,
            ext_code=r.ext_code,
            target=Target(
                type=DEVICE_TYPES.get(r.devicetype or 0, "unknown"),  # type: ignore[arg-type]
                id=r.device_id,
                name=r.device_desc,
            ),
            media_type_id=r.media_type_id,
            editable=r.editable,
            deletable=r.deletable and r.dnid not in plan.held,
            reason=_reason(plan, r),
        )
        for r in plan.records.values()
    ]
    return DryRunResult(
        status="planned",
        dry_run=True,
        dnids=plan.sendable,
        plan=planned,
        not_found=plan.not_found,
        request_id=request_id,
    )
