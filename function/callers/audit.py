"""The audit record of a deletion: who deleted which routes, as they were last seen.

One structured log entry per request that deleted anything, with its own message
(``called routes deleted``) and a label that a log sink filters on
(``logging.googleapis.com/labels``: ``{"audit": "cec-called-routes"}``, which Cloud
Logging turns into the entry's labels). scripts/restore_routes.py reads these
entries back to re-create the routes.

A Cloud Logging entry holds at most 256 KB, so a request that deleted more than
ROUTES_PER_ENTRY routes writes several entries, ``part`` 1..``parts``, all with the
same request id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from function import log
from function.callers.auth import Caller
from function.cec.lookup import RouteRecord
from function.models import DeleteResult

MESSAGE = "called routes deleted"
LABELS = {"audit": "cec-called-routes"}
ROUTES_PER_ENTRY = 250
SCHEMA_VERSION = 1


def route_entry(record: RouteRecord) -> dict[str, Any]:
    """Every field queryCalledRoute showed, in the API's own spelling (createCalledRoute's
    for mediaTypeId), so that the record can be re-created."""
    entry: dict[str, Any] = {
        "dnid": record.dnid,
        "id": record.id,
        "accessCode": record.access_code,
        "extCode": record.ext_code,
        "devicetype": record.devicetype,
        "deviceId": record.device_id,
        "deviceDesc": record.device_desc,
        "mediaTypeId": record.media_type_id,
        "editable": record.editable,
    }
    return {k: v for k, v in entry.items() if v is not None}


def record_deletion(
    *,
    principal: str,
    method: str,
    request_id: str,
    selector: str,
    plan_id: str | None,
    routes: Sequence[dict[str, Any]],
    known: str,
    api_names: Sequence[str] = (),
    api_ids: Sequence[str] = (),
    unverified: Sequence[dict[str, Any]] = (),
) -> None:
    """``known``: "full" (each route's record as looked up before the delete) or
    "dnid" (plain dnids without a lookup: the dnids sent, and the names and ids the
    API reported, which cannot be paired with them). ``unverified``: routes this request
    sent that are gone although the API did not report deleting them (a lost answer):
    perhaps deleted by this request, perhaps by someone else."""
    chunks = [list(routes[i : i + ROUTES_PER_ENTRY]) for i in range(0, len(routes), ROUTES_PER_ENTRY)] or [[]]
    for part, chunk in enumerate(chunks, start=1):
        audit: dict[str, Any] = {
            "version": SCHEMA_VERSION,
            "principal": principal,
            "method": method,
            "requestId": request_id,
            "selector": selector,
            "recordsKnown": known,
            "deletedCount": len(routes),
            "part": part,
            "parts": len(chunks),
            "routes": chunk,
        }
        if plan_id is not None:
            audit["planId"] = plan_id
        if known != "full" and part == 1:
            audit["apiReported"] = {"names": list(api_names), "ids": list(api_ids)}
        if unverified and part == 1:
            audit["unverified"] = list(unverified[:ROUTES_PER_ENTRY])
        log.event(
            logging.INFO,
            MESSAGE,
            severity="NOTICE",
            **{"logging.googleapis.com/labels": dict(LABELS)},
            audit=audit,
        )


def audit_result(
    result: DeleteResult,
    records: dict[str, RouteRecord] | None,
    caller: Caller,
    selector: str,
    plan_id: str | None,
) -> None:
    """Write the audit entry of ``result`` if it deleted anything. ``records``: the
    routes as looked up before the delete, or None on the plain dnids path."""
    base: dict[str, Any] = {"principal": caller.principal, "method": caller.method, "request_id": result.request_id}
    if records is not None and result.results is not None:
        deleted = [records[r.dnid] for r in result.results if r.outcome == "deleted" and r.dnid in records]
        sent = set(result.dnids)
        unverified = [
            route_entry(records[r.dnid])
            for r in result.results
            if r.dnid in sent and r.dnid in records and r.outcome in ("already_absent", "unknown")
        ]
        if deleted or unverified:
            record_deletion(
                **base,
                selector=selector,
                plan_id=plan_id,
                routes=[route_entry(r) for r in deleted],
                known="full",
                unverified=unverified,
            )
        return
    if not result.deleted and not result.ids:
        return
    # No lookup before the delete: the dnids sent (those verified deleted when a
    # lookup followed), and the names and ids the API reported.
    if result.results is not None:
        gone = [r.dnid for r in result.results if r.outcome == "deleted" and r.dnid]
    else:
        gone = list(result.dnids)
    record_deletion(
        **base,
        selector=selector,
        plan_id=plan_id,
        routes=[{"dnid": d} for d in gone],
        known="dnid",
        api_names=result.deleted,
        api_ids=result.ids,
    )
