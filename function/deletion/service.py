"""What a request does: resolve its selector (plan.py), delete in batches, settle each
route's outcome, and build the answer (answers.py).

Every selector is looked up before the delete, plain ``dnids`` included unless
CEC_LOOKUP_BEFORE_DELETE=false, so that the audit holds each route's full record.
After the delete, any answer that is not a clean "exactly these routes deleted", and
any call that failed after it went out, is settled by a lookup: a route is reported
gone only when a listing read in full shows it is.
"""

from __future__ import annotations

from function import log
from function.budget import Deadline
from function.callers import audit
from function.callers.auth import Caller
from function.callers.guards import Guards
from function.callers.policies import check_request, check_routes
from function.cec.client import CecClient
from function.cec.lookup import PAGE_SIZE, LookupBudget, RouteRecord, find_by
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
from function.errors import (
    FunctionError,
    InvalidRequest,
    UpstreamCallLimitExceeded,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from function.models import DeleteRequest, DeleteResult, RouteResult

# Upstream calls kept back from a lookup made for the audit's records, besides the deletes:
# a token renewal, a retry, and the re-reads of a listing that moved.
RECORDS_LOOKUP_RESERVE = 4


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
        require_complete(rechecked.incomplete, budget)
        plan = Plan(
            requested=[("record", dnid) for dnid in rechecked.order],
            records=rechecked.records,
            looked_up=True,
            held=rechecked.held,
            plan_id=rechecked.plan_id,
        )
    else:
        lookup_first = guards.lookup_first(policy) if guards is not None else None
        calls_left = call_limit.left()
        if lookup_first == "records" and request.dnids is not None and calls_left is not None:
            # A lookup made only for the audit may not take the calls the delete needs: it
            # stops short (its routes go without a record) rather than stop the deletion.
            spare = calls_left - fewest - RECORDS_LOOKUP_RESERVE
            budget.max_records = min(budget.max_records, max(0, spare) * PAGE_SIZE)
        plan = resolve(
            client,
            request,
            budget=budget,
            deadline=deadline,
            lookup_first=lookup_first,
            concurrency=lookup_concurrency,
        )
        budget.max_records = max_lookup_records
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
    fault = next((run.error or run.unsent for run in runs if run.error or run.unsent), None)
    if fault is not None and all(run.unsent is not None or (run.answer is None and run.error is None) for run in runs):
        raise fault  # nothing went out: every route is as it was
    outcomes = settle(client, plan, runs, budget=budget, deadline=deadline, concurrency=lookup_concurrency)
    if fault is not None and outcomes is not None and _untouched(sendable, outcomes):
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
        not_restorable=_not_restorable(plan, sendable, results),
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
        except FunctionError as exc:
            # A call that went out and got no usable answer may still have deleted:
            # settle() looks. One that never went out left its routes untouched.
            if _delete_attempts() == sent_before:
                run.unsent = exc
            else:
                run.error = exc
            break
    return runs


def _delete_attempts() -> int:
    ctx = log.current()
    return ctx.upstream_calls.get("delete", 0) if ctx is not None else 0


def _may_have_acted(error: FunctionError) -> bool:
    """Whether a call that went out and failed may have been acted on, or be acted on later:
    no answer came (a timeout, a connection broken after sending, a gateway's 502 or 504).
    An answer (a refusal, a garbled 200) means the API is done with it."""
    if isinstance(error, UpstreamUnavailable):
        return error.may_have_acted
    return isinstance(error, (UpstreamTimeout, UpstreamCallLimitExceeded))


def _not_restorable(plan: Plan, sent: list[str], results: list[RouteResult] | None) -> list[str] | None:
    """The sent dnids that may be gone and have no record to re-create them from."""
    if plan.looked_up and not plan.unrecorded:
        return None
    unrecorded = set(plan.unrecorded) if plan.looked_up else set(sent)
    if results is None:
        gone = [dnid for dnid in sent if dnid in unrecorded]
    else:
        maybe_gone = {"deleted", "already_absent", "unknown"}
        gone = [r.dnid for r in results if r.dnid in unrecorded and r.outcome in maybe_gone and r.dnid]
    return gone or None


def _untouched(sent: list[str], outcomes: dict[str, RouteOutcome]) -> bool:
    return all(outcomes[dnid].outcome in ("failed", "not_sent") for dnid in sent)


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
    unclean = [run for run in runs if not is_clean(run.dnids, run.answer, plan.records)]
    if not unclean and not plan.looked_up:
        return None
    present: dict[str, RouteRecord] = {}
    proven = False
    to_check = [d for run in unclean if run.answer is not None or run.error is not None for d in run.dnids]
    if to_check:
        try:
            present, incomplete = find_by(
                client, lambda r: r.dnid, to_check, budget=budget, deadline=deadline, concurrency=concurrency
            )
            proven = incomplete is None
        except FunctionError:
            pass  # the outcomes say "unknown" where they cannot be told otherwise
    outcomes: dict[str, RouteOutcome] = {}
    for run in runs:
        error = f"{run.error.code}: {run.error.detail}" if run.error else None
        outcomes.update(
            assign(
                run.dnids,
                run.answer,
                error=error,
                known=plan.records,
                present=present,
                proven=proven,
                may_still_act=run.error is not None and _may_have_acted(run.error),
            )
        )
        if run.unsent is not None:
            unsent = RouteOutcome("not_sent", f"{run.unsent.code}: {run.unsent.detail}")
            outcomes.update(dict.fromkeys(run.dnids, unsent))
    if plan.looked_up:
        for dnid, record in plan.records.items():
            if not record.deletable:
                outcomes[dnid] = RouteOutcome("protected", f"editable={record.editable}: never sent to the API")
    # The routes that are still there can now be shown with their codes.
    for dnid, record in present.items():
        plan.records.setdefault(dnid, record)
    outcomes.update(plan.held)
    return outcomes
