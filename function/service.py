"""Deleting a list of dnids: batches sent one after another, answers merged into one result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from function.budget import Deadline
from function.cec_client import CecClient
from function.dnids import to_api_form
from function.errors import FunctionError
from function.models import BatchResult, DeleteResult
from function.results import parse_delete_answer

HTTP_STATUS = {"deleted": 200, "partial": 207, "failed": 422}


@dataclass(frozen=True)
class DeleteOutcome:
    result: DeleteResult
    http_status: int


def delete_routes(
    client: CecClient, dnids: list[str], *, batch_size: int, deadline: Deadline, request_id: str
) -> DeleteOutcome:
    """Delete ``dnids`` in batches of ``batch_size``.

    An upstream fault before anything was deleted is raised as the problem it is (so
    the caller retries the whole request). After some batch deleted routes it is
    recorded on its batch instead, and the answer is partial: raising would hide
    deletions that did happen.
    """
    batches = [dnids[i : i + batch_size] for i in range(0, len(dnids), batch_size)]
    results: list[BatchResult] = []
    deleted: list[str] = []
    failed: list[str] = []
    ids: list[str] = []
    stopped: FunctionError | None = None

    for batch in batches:
        if stopped is not None:
            results.append(BatchResult(dnids=batch, return_code=None, description=None, status="not_sent"))
            continue
        try:
            answer = parse_delete_answer(client.delete_called_route(to_api_form(batch), deadline))
        except FunctionError as exc:
            if not any(r.status in ("deleted", "partial") for r in results):
                raise
            stopped = exc
            results.append(
                BatchResult(dnids=batch, return_code=None, description=f"{exc.code}: {exc.detail}", status="error")
            )
            continue
        deleted += answer.deleted
        failed += answer.failed
        ids += answer.ids
        results.append(
            BatchResult(
                dnids=batch,
                return_code=answer.return_code,
                description=answer.description,
                status=answer.status,
            )
        )

    statuses = {r.status for r in results}
    status: Literal["deleted", "partial", "failed"]
    if statuses == {"deleted"}:
        status = "deleted"
    elif statuses & {"deleted", "partial"}:
        status = "partial"
    else:
        status = "failed"
    result = DeleteResult(
        status=status,
        dnids=dnids,
        deleted=deleted,
        failed=failed,
        ids=ids,
        batches=results,
        request_id=request_id,
    )
    return DeleteOutcome(result, HTTP_STATUS[status])
