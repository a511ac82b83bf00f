"""Undo a deletion: re-create called routes from the function's audit entries.

    .venv/bin/python scripts/restore_routes.py audit.json            # show what would be re-created
    .venv/bin/python scripts/restore_routes.py audit.json --apply    # re-create them

The input is one or more files (``-`` for stdin) of audit entries ("called routes
deleted"): the output of ``gcloud logging read ... --format=json`` (a JSON list of
log entries), entries exported by a log sink (one JSON object per line, with
``jsonPayload``), or the function's own stdout lines. ``--request-id`` and
``--plan-id`` narrow them down.

With ``--apply`` each route is re-created with createCalledRoute (accessCode,
extCode, devicetype, deviceId, mediaTypeId as last seen) through the function's own
CEC client, configured by the same environment variables as the function
(``CEC_BASE_URL``, ``CEC_CREDENTIALS_SECRET`` or ``CEC_APP_KEY``/``CEC_APP_SECRET``,
...). createCalledRoute answers without the new record, so each new route is looked
up again and its new dnid and id printed. A route whose access code and extension
exist again is left alone. ``--include-unverified`` adds the routes an entry lists as
``unverified`` (sent, then gone, but the answer was lost). Entries written without a lookup (plain ``dnids``
deletes, ``recordsKnown`` "dnid") hold no codes or target and cannot be restored:
they are listed as such.

Exit status: 0 when every restorable route exists again, 1 when some could not be
re-created, 2 for unusable input or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from function.budget import Deadline
from function.callers.audit import MESSAGE
from function.cec.client import CecClient
from function.cec.credentials import CredentialProvider
from function.cec.lookup import LookupBudget, find_routes
from function.cec.tokens import TokenProvider
from function.cec.transport import Transport
from function.errors import FunctionError
from function.secret_manager import SecretReader
from function.settings import Settings, load_settings

LOOKUP_RECORDS = 20000


@dataclass
class Audit:
    routes: list[dict[str, Any]] = field(default_factory=list)  # restorable, first occurrence of each id
    unrestorable: list[str] = field(default_factory=list)  # why, one line each
    entries: int = 0


def _objects(text: str) -> Iterator[Any]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, list):
            yield from data
            return
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def read_audit(
    texts: Iterable[str], *, request_id: str | None = None, plan_id: str | None = None, unverified: bool = False
) -> Audit:
    audit = Audit()
    seen: set[str] = set()
    for text in texts:
        for obj in _objects(text):
            payload = obj.get("jsonPayload", obj) if isinstance(obj, dict) else None
            if not isinstance(payload, dict) or payload.get("message") != MESSAGE:
                continue
            entry = payload.get("audit")
            if not isinstance(entry, dict):
                continue
            if request_id and entry.get("requestId") != request_id:
                continue
            if plan_id and entry.get("planId") != plan_id:
                continue
            audit.entries += 1
            routes = list(entry.get("routes") or [])
            if unverified:
                routes += list(entry.get("unverified") or [])
            for route in routes:
                if not isinstance(route, dict):
                    continue
                missing = [k for k in ("accessCode", "devicetype", "deviceId") if route.get(k) is None]
                if entry.get("recordsKnown") != "full" or missing:
                    names = (entry.get("apiReported") or {}).get("names") or []
                    audit.unrestorable.append(
                        f"dnid {route.get('dnid')} (request {entry.get('requestId')}): deleted by plain dnids"
                        f" without a lookup, codes and target unknown (the API reported names {names[:5]})"
                    )
                    continue
                key = str(route.get("id") or f"{route['accessCode']}+{route.get('extCode', '')}")
                if key not in seen:
                    seen.add(key)
                    audit.routes.append(route)
    return audit


def create_body(route: dict[str, Any]) -> dict[str, Any]:
    """createCalledRoute's fields (reference section 4); mediaTypeId left to the API's
    default (5) when the record had none."""
    body: dict[str, Any] = {
        "accessCode": route["accessCode"],
        "extCode": route.get("extCode") or "",
        "devicetype": int(route["devicetype"]),
        "deviceId": int(route["deviceId"]),
    }
    if route.get("mediaTypeId") is not None:
        body["mediaTypeId"] = int(route["mediaTypeId"])
    return body


def build_client(settings: Settings) -> CecClient:
    secrets = SecretReader(
        endpoint=settings.secret_manager_endpoint,
        timeout_seconds=settings.secret_timeout_seconds,
        ttl_seconds=settings.secret_cache_ttl_seconds,
    )
    transport = Transport(timeout_seconds=settings.cec_timeout_seconds, max_retries=settings.cec_max_retries)
    tokens = TokenProvider(transport=transport, url=settings.token_url, ttl_seconds=settings.cec_token_ttl_seconds)
    return CecClient(
        base_url=settings.api_base_url,
        transport=transport,
        tokens=tokens,
        credentials=CredentialProvider(settings, secrets),
    )


def restore(client: CecClient, route: dict[str, Any], budget_seconds: float) -> dict[str, Any]:
    body = create_body(route)
    report: dict[str, Any] = {"old": {k: route.get(k) for k in ("dnid", "id")}, **body}
    deadline = Deadline(budget_seconds)
    lookup = LookupBudget(LOOKUP_RECORDS)
    existing, _ = find_routes(client, body["accessCode"], body["extCode"], budget=lookup, deadline=deadline)
    if existing:
        report.update(status="exists", dnid=existing[0].dnid, id=existing[0].id)
        return report
    answer = client.create_called_route(body, deadline)
    code = str(answer.get("returnCode")) if isinstance(answer, dict) else "?"
    if code != "0":
        description = answer.get("description") if isinstance(answer, dict) else None
        report.update(status="failed", description=f"returnCode {code}: {str(description)[:200]}")
        return report
    # The answer names no dnid or id: look the new route up.
    created, _ = find_routes(client, body["accessCode"], body["extCode"], budget=lookup, deadline=deadline)
    if not created:
        report.update(status="failed", description="created, but the lookup after it did not find the route")
        return report
    report.update(status="restored", dnid=created[0].dnid, id=created[0].id)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-create called routes from the function's audit entries.")
    parser.add_argument("files", nargs="+", help="files of audit entries; - for stdin")
    parser.add_argument("--apply", action="store_true", help="re-create the routes (default: only show them)")
    parser.add_argument("--request-id", help="only the entries of this request")
    parser.add_argument("--plan-id", help="only the entries of this plan")
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    parser.add_argument(
        "--include-unverified",
        action="store_true",
        help="also the routes a request sent whose answer was lost (gone, perhaps deleted by someone else)",
    )
    args = parser.parse_args(argv)

    texts = [sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8") for name in args.files]
    audit = read_audit(texts, request_id=args.request_id, plan_id=args.plan_id, unverified=args.include_unverified)
    if audit.entries == 0:
        print(f"No audit entries ({MESSAGE!r}) found in the input.", file=sys.stderr)
        return 2
    reports: list[dict[str, Any]] = []
    if not args.apply:
        reports = [{"status": "would_create", **create_body(r), "old": {"dnid": r.get("dnid"), "id": r.get("id")}}
                   for r in audit.routes]  # fmt: skip
    else:
        try:
            settings = load_settings()
        except FunctionError as exc:
            print(exc.detail, file=sys.stderr)
            return 2
        if not settings.cec_base_url or not (
            settings.cec_credentials_secret or (settings.cec_app_key and settings.cec_app_secret)
        ):
            print("Set CEC_BASE_URL and CEC_CREDENTIALS_SECRET (or CEC_APP_KEY and CEC_APP_SECRET).", file=sys.stderr)
            return 2
        client = build_client(settings)
        for route in audit.routes:
            try:
                reports.append(restore(client, route, settings.request_budget_seconds))
            except FunctionError as exc:
                old = {"dnid": route.get("dnid"), "id": route.get("id")}
                reports.append(
                    {"old": old, **create_body(route), "status": "failed", "description": f"{exc.code}: {exc.detail}"}
                )
    failed = [r for r in reports if r["status"] == "failed"]
    if args.json:
        print(json.dumps({"routes": reports, "unrestorable": audit.unrestorable}, indent=2))
    else:
        for r in reports:
            new = f" -> dnid {r['dnid']} id {r['id']}" if "dnid" in r else ""
            print(
                f"{r['status']:<12} {r['accessCode']}+{r['extCode'] or '(none)'}  devicetype {r['devicetype']}"
                f" deviceId {r['deviceId']}  (was dnid {r['old']['dnid']}, id {r['old']['id']}){new}"
                + (f"  {r['description']}" if "description" in r else "")
            )
        for line in audit.unrestorable:
            print("cannot restore", line)
        if not args.apply and reports:
            print(f"\n{len(reports)} route(s) would be re-created; run again with --apply.")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
