"""What a request's answer says: the HTTP status, per-batch and per-route results, the preview.

Built from the plan (function/deletion/plan.py) and what the batches got back; nothing
here calls the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from function.cec.lookup import DEVICE_TYPES, RouteRecord
from function.deletion.outcomes import SUCCESS, RouteOutcome
from function.deletion.plan import BatchRun, Plan
from function.models import BatchResult, DeleteResult, DryRunResult, PlannedRoute, RouteResult, Target

HTTP_STATUS = {"deleted": 200, "partial": 207, "failed": 422}


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


def route_results(plan: Plan, outcomes: dict[str, RouteOutcome]) -> list[RouteResult]:
    not_found = {entry.id or entry.dnid for entry in plan.not_found if entry.access_code is None}
    results: list[RouteResult] = []
    for kind, key in plan.requested:
        record = plan.by_id.get(key) if kind == "id" else plan.records.get(key)
        if record is None and key in not_found:
            # A listing read in full showed no such route: the goal holds, nothing was sent.
            by_id = kind == "id"
            results.append(
                RouteResult(
                    dnid=None if by_id else key, id=key if by_id else None, access_code=None, ext_code=None,
                    outcome="already_absent",
                )
            )  # fmt: skip
            continue
        dnid = record.dnid if record is not None else key
        outcome = outcomes.get(dnid) or RouteOutcome("unknown", "no outcome could be established")
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


OverallStatus = Literal["deleted", "partial", "failed"]


def overall_status(batches: list[BatchResult], results: list[RouteResult] | None) -> OverallStatus:
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


def batch_result(run: BatchRun) -> BatchResult:
    if run.answer is not None:
        answer = run.answer
        return BatchResult(
            dnids=run.dnids, return_code=answer.return_code, description=answer.description, status=answer.status
        )
    if run.error is not None:
        return BatchResult(
            dnids=run.dnids, return_code=None, description=f"{run.error.code}: {run.error.detail}", status="error"
        )
    description = f"{run.unsent.code}: {run.unsent.detail}" if run.unsent else None
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
