"""What a request does: resolve its selector (plan.py), delete in batches, settle each
route's outcome, and build the answer (answers.py).

The plain ``dnids`` delete is the hot path and costs no lookup. Lookups happen only
for the other selectors, for dry runs, and after an answer that is not a clean
"everything deleted" (to turn names and refusals into per-route outcomes).
"""

from __future__ import annotations

from function import log
from function.budget import Deadline
from function.callers import audit
from function.callers.auth import Caller
from function.callers.guards import Guards
from function.callers.policies import check_request, check_routes
from function.cec.client import CecClient
from function.cec.lookup import LookupBudget, RouteRecord, find_by
from function.cec.results import parse_delete_answer
from function.deletion import call_limit
from function.deletion.answers import (
    HTTP_STATUS,
    Answer,
    batch_result,
    dry_run_result,
    overall_status,
    route_results,
)
from function.deletion.outcomes import RouteOutcome, assign, is_clean
from function.deletion.plan import BatchRun, Plan, codes, require_complete, resolve
from function.deletion.plan_apply import attach_token, verify_and_recheck
from function.dnids import to_api_form
from function.errors import FunctionError, InvalidRequest, UpstreamCallLimitExceeded
from function.models import DeleteRequest, DeleteResult


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
        require_complete(rechecked.complete, budget)
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
        check_routes(policy, [codes(plan, dnid) for dnid in sendable])
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
    batches = [batch_result(run) for run in runs]
    results = route_results(plan, outcomes) if outcomes is not None else None
    status = overall_status(batches, results)
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
