"""Undo a deletion: re-create called routes from the function's signed audit records.

    .venv/bin/python scripts/restore_routes.py audit.json            # preview: what exists, what would be created
    .venv/bin/python scripts/restore_routes.py audit.json --apply    # re-create what is missing
    .venv/bin/python scripts/restore_routes.py audit.json --apply --json > map.json   # old -> new dnid map

Input: one or more files (``-`` for stdin) holding the audit entries ("called routes
deleted") as ``gcloud logging read ... --format=json`` gives them (a JSON list of log
entries with ``jsonPayload``, newest first), as a log sink exports them (one JSON
object per line), or as the function writes them (its stdout lines; other lines are
skipped). ``--request-id`` and ``--plan-id`` narrow them down.

Configured like the function: ``CEC_BASE_URL`` and one of ``CEC_CREDENTIALS_FILE``,
``CEC_CREDENTIALS_SECRET`` or ``CEC_APP_KEY``/``CEC_APP_SECRET``. Every entry's
signature is checked first, with the key derived from those credentials, the keys of
``AUDIT_SIGNING_KEYS`` and of every ``--verify-credentials`` file (older AK/SK); an
unsigned or altered entry stops the run before anything is created, unless
``--no-verify-i-trust-this-input`` is given. The whole input is validated before
anything is created. The preview and ``--apply`` look the tenant up: each route is
``exists`` (its codes exist with the recorded target), ``conflict`` (they exist with
another target: never overwritten), ``would_create`` / ``restored`` or ``failed``.

Exit status: 0 when every route of the selected entries exists again (preview: would
exist after ``--apply``); 1 when some do not, naming them (routes recorded as not
restorable, records with parts missing from the input, conflicts, failures); 2 for
unusable input or configuration (one line per bad entry, nothing created).
docs/AUDIT_AND_UNDO.md has the details.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from function.budget import Deadline
from function.callers.audit import (
    MESSAGE,
    SigningKey,
    canonical,
    key_from_credentials,
    keys_from_setting,
    verify,
)
from function.cec.client import CecClient
from function.cec.credentials import CredentialProvider
from function.cec.lookup import LookupBudget, RouteRecord, find_routes, scan
from function.cec.tokens import TokenProvider
from function.cec.transport import Transport
from function.errors import FunctionError
from function.secret_manager import SecretReader
from function.settings import Settings, load_settings

LOOKUP_RECORDS = 20000
MAX_INPUT_BYTES = 256 * 1024 * 1024
MAX_PARTS = 100_000
MAX_PROBLEMS_PER_ENTRY = 5
TRUST_FLAG = "--no-verify-i-trust-this-input"
DEVICE_TYPES = {1: "skill queue", 3: "IVR"}
CONSOLE = "the CEC console (Configuration Center > Number Management > called routes)"


class InputProblem(Exception):
    """The input cannot be used; its message is the line to print."""


@dataclass
class Entry:
    where: str  # file and line or list index
    audit: dict[str, Any]
    verified: bool = True


@dataclass
class Route:
    """One recorded route, restorable or not."""

    where: str
    record: str
    request_id: str
    section: str  # routes or unverified
    dnid: str
    old_id: str | None
    restorable: str | None  # None: restorable; otherwise why not
    access_code: str = ""
    ext_code: str = ""
    devicetype: int = 0
    device_id: int = 0
    media_type_id: int | None = None
    editable: str | None = None
    verified: bool = True
    bounded: dict[str, Any] = field(default_factory=dict)
    part: int = 0

    @property
    def codes(self) -> tuple[str, str]:
        return self.access_code, self.ext_code


@dataclass
class Records:
    routes: list[Route] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # one line per record with parts missing
    entries: int = 0
    unverified_skipped: int = 0  # recorded as unverified, not selected (--include-unverified)


# -- reading ----------------------------------------------------------------------------


def _objects(name: str, data: bytes) -> Iterator[tuple[str, Any]]:
    """(where, JSON object) of every log entry in ``data``; InputProblem when unusable."""
    if b"\x00" in data:
        raise InputProblem(f"{name}: binary data (a NUL byte), not log entries")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputProblem(f"{name}: not UTF-8 text (byte {exc.start}): not log entries") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except RecursionError:
            raise InputProblem(f"{name}: JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise InputProblem(
                f"{name}: starts like a JSON list but is not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        if not isinstance(items, list):
            raise InputProblem(f"{name}: a JSON document that is not a list of log entries")
        for index, item in enumerate(items):
            yield f"{name}[{index}]", item
        return
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            yield f"{name}:{number}", json.loads(line)
        except RecursionError:
            raise InputProblem(f"{name}:{number}: JSON nested too deeply") from None
        except ValueError:
            if MESSAGE in line:
                raise InputProblem(f"{name}:{number}: an audit line that is not valid JSON (cut or damaged)") from None


def read_entries(named: list[tuple[str, bytes]]) -> tuple[list[Entry], list[str]]:
    entries: list[Entry] = []
    problems: list[str] = []
    for name, data in named:
        try:
            for where, obj in _objects(name, data):
                payload = obj.get("jsonPayload", obj) if isinstance(obj, dict) else None
                if not isinstance(payload, dict) or payload.get("message") != MESSAGE:
                    continue
                audit = payload.get("audit")
                if not isinstance(audit, dict):
                    problems.append(f"{where}: an audit entry without an audit object")
                    continue
                entries.append(Entry(where, audit))
        except InputProblem as exc:
            problems.append(str(exc))
    return entries, problems


# -- checking ---------------------------------------------------------------------------


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Cloud Logging keeps numbers as doubles
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _show(value: Any) -> str:
    try:
        return repr(value)[:40]
    except RecursionError:
        return "(nested too deeply)"


def _route(
    entry: Entry, section: str, index: int, raw: Any, *, lost: frozenset[str], problems: list[str]
) -> Route | None:
    at = f"{section}[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{at} is {_show(raw)}, not an object")
        return None
    dnid = raw.get("dnid")
    if not isinstance(dnid, str) or not dnid.isdigit() or len(dnid) > 20:
        problems.append(f"{at}.dnid {_show(dnid)} is not a dnid")
        return None
    old_id = raw.get("id")
    if old_id is not None and not isinstance(old_id, str):
        problems.append(f"{at}.id {_show(old_id)} is not a string")
        return None
    audit = entry.audit

    def make(restorable: str | None) -> Route:
        return Route(
            where=entry.where,
            record=str(audit.get("recordId") or f"request {audit.get('requestId')}"),
            request_id=str(audit.get("requestId")),
            section=section,
            dnid=dnid,
            old_id=old_id,
            restorable=restorable,
            verified=entry.verified,
        )

    bounded = raw.get("boundedFields") or {}
    if not isinstance(bounded, dict):
        problems.append(f"{at}.boundedFields {_show(bounded)} is not an object")
        return None
    if dnid in lost or audit.get("recordsKnown") == "dnid":
        why = "recorded by dnid only: its codes and target were not looked up before the delete"
        return make(why)
    cut = sorted(set(bounded) & {"accessCode", "extCode"})
    if cut:
        return make(f"{' and '.join(cut)} too long for the record (bounded)")
    access, ext = raw.get("accessCode"), raw.get("extCode", "")
    devicetype = _int(raw.get("devicetype"), 1, 3)
    device_id = _int(raw.get("deviceId"), 0, 2**63 - 1)
    media = raw.get("mediaTypeId")
    before = len(problems)
    if not isinstance(access, str) or not 0 < len(access) <= 32:
        problems.append(f"{at}.accessCode {_show(access)} is not 1 to 32 characters")
    if not isinstance(ext, str) or len(ext) > 12:
        problems.append(f"{at}.extCode {_show(ext)} is not at most 12 characters")
    if devicetype not in DEVICE_TYPES:
        problems.append(f"{at}.devicetype {_show(raw.get('devicetype'))} is not 1 (skill queue) or 3 (IVR)")
    if device_id is None:
        problems.append(f"{at}.deviceId {_show(raw.get('deviceId'))} is not a non-negative integer")
    if media is not None and _int(media, 0, 2**31 - 1) is None:
        problems.append(f"{at}.mediaTypeId {_show(media)} is not an integer")
    editable = raw.get("editable")
    if editable is not None and not isinstance(editable, str):
        problems.append(f"{at}.editable {_show(editable)} is not a string")
    if len(problems) > before:
        return None
    route = make(None)
    route.access_code, route.ext_code = str(access), str(ext)
    route.devicetype, route.device_id = int(devicetype or 0), int(device_id or 0)
    route.media_type_id, route.editable, route.bounded = _int(media, 0, 2**31 - 1), editable, bounded
    return route


def check_entry(entry: Entry) -> tuple[list[Route], list[str]]:
    """The entry's routes, and what is wrong with it (nothing when it is usable)."""
    audit = entry.audit
    problems: list[str] = []
    if _int(audit.get("version"), 1, 2) is None:
        problems.append(f"version {_show(audit.get('version'))} is not 1 or 2")
    request_id = audit.get("requestId")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
        problems.append(f"requestId {_show(request_id)} is not a request id")
    part, parts = _int(audit.get("part"), 1, MAX_PARTS), _int(audit.get("parts"), 1, MAX_PARTS)
    if part is None or parts is None or part > parts:
        problems.append(f"part {_show(audit.get('part'))} of {_show(audit.get('parts'))} is not a part number")
    lost_raw = audit.get("notRestorable", [])
    if not isinstance(lost_raw, list) or not all(isinstance(d, str) for d in lost_raw):
        problems.append(f"notRestorable {_show(lost_raw)} is not a list of dnids")
        lost_raw = []
    lost = frozenset(lost_raw)
    routes: list[Route] = []
    for section in ("routes", "unverified"):
        raw = audit.get(section, [])
        if not isinstance(raw, list):
            problems.append(f"{section} is {_show(raw)}, not a list")
            continue
        for index, item in enumerate(raw):
            route = _route(entry, section, index, item, lost=lost, problems=problems)
            if route is not None:
                routes.append(route)
    return routes, problems


def _label(entry: Entry) -> str:
    audit = entry.audit
    return f"{entry.where} (request {str(audit.get('requestId'))[:128]}, part {_show(audit.get('part'))})"


def check(
    entries: list[Entry], keys: list[SigningKey], *, trust: bool, unverified: bool
) -> tuple[Records, list[str], int]:
    """Every entry verified and validated: (records, one problem line per bad entry,
    how many entries are used without a valid signature)."""
    records = Records(entries=len(entries))
    problems: list[str] = []
    untrusted = 0
    parts: dict[tuple[str, int], bytes] = {}
    counts: dict[str, tuple[int, set[int], str]] = {}
    for entry in entries:
        why = verify(entry.audit, keys)
        if why is not None:
            if not trust:
                problems.append(f"{_label(entry)}: refused: {why}; nothing is restored from it")
                continue
            entry.verified = False
            untrusted += 1
        routes, wrong = check_entry(entry)
        if wrong:
            shown = "; ".join(wrong[:MAX_PROBLEMS_PER_ENTRY])
            more = f" (and {len(wrong) - MAX_PROBLEMS_PER_ENTRY} more)" if len(wrong) > MAX_PROBLEMS_PER_ENTRY else ""
            problems.append(f"{_label(entry)}: {shown}{more}")
            continue
        audit = entry.audit
        record = str(audit.get("recordId") or f"request {audit['requestId']}")
        number, total = int(audit["part"]), int(audit["parts"])
        try:
            body = canonical(audit)
        except (ValueError, TypeError, RecursionError):
            problems.append(f"{_label(entry)}: content unreadable")
            continue
        seen = parts.get((record, number))
        if seen is not None:
            if seen != body:
                problems.append(
                    f"{_label(entry)}: part {number} of record {record} appears twice, with different content"
                )
            continue  # the same part twice (two exports, or stdout and an export): once is enough
        parts[(record, number)] = body
        known = counts.setdefault(record, (total, set(), str(audit["requestId"])))
        if known[0] != total:
            problems.append(f"{_label(entry)}: record {record} has parts of {known[0]} and of {total}")
            continue
        known[1].add(number)
        for route in routes:
            route.part = number
            if route.section == "routes" or unverified:
                records.routes.append(route)
            else:
                records.unverified_skipped += 1
    # In record order, each record's routes in part order (gcloud lists newest first).
    order = {record: index for index, record in enumerate(counts)}
    records.routes.sort(key=lambda r: (order[r.record], r.part))
    for record, (total, numbers, request_id) in counts.items():
        missing = sorted(set(range(1, total + 1)) - numbers)
        if missing:
            shown = ", ".join(str(n) for n in missing[:20]) + (" ..." if len(missing) > 20 else "")
            records.incomplete.append(
                f"record {record} (request {request_id}): part(s) {shown} of {total} are not in the input;"
                " the routes they hold are not restored (read the log again for them)"
            )
    return records, problems, untrusted


# -- the tenant -------------------------------------------------------------------------


def build_client(settings: Settings) -> tuple[CecClient, CredentialProvider]:
    secrets = SecretReader(
        endpoint=settings.secret_manager_endpoint,
        timeout_seconds=settings.secret_timeout_seconds,
        ttl_seconds=settings.secret_cache_ttl_seconds,
    )
    transport = Transport(timeout_seconds=settings.cec_timeout_seconds, max_retries=settings.cec_max_retries)
    tokens = TokenProvider(transport=transport, url=settings.token_url, ttl_seconds=settings.cec_token_ttl_seconds)
    credentials = CredentialProvider(settings, secrets)
    client = CecClient(base_url=settings.api_base_url, transport=transport, tokens=tokens, credentials=credentials)
    return client, credentials


def signing_keys(settings: Settings, credentials: CredentialProvider, old: list[str]) -> list[SigningKey]:
    current = credentials.get(Deadline(max(30.0, settings.secret_timeout_seconds)))
    keys = [key_from_credentials(current.app_key, current.app_secret)]
    if settings.audit_signing_keys:
        keys += keys_from_setting(settings.audit_signing_keys.get_secret_value())
    for name in old:
        try:
            data = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            raise InputProblem(f"--verify-credentials {name}: not a readable JSON file") from None
        if not (
            isinstance(data, dict) and isinstance(data.get("app_key"), str) and isinstance(data.get("app_secret"), str)
        ):
            raise InputProblem(f'--verify-credentials {name}: must hold {{"app_key": "...", "app_secret": "..."}}')
        keys.append(key_from_credentials(data["app_key"].strip(), data["app_secret"].strip()))
    return keys


class Tenant:
    """What the tenant holds, per access code, looked up once and kept current."""

    def __init__(self, client: CecClient, seconds: float) -> None:
        self.client = client
        self.seconds = seconds
        self._by_code: dict[str, dict[str, list[RouteRecord]] | None] = {}

    def routes(self, access_code: str, ext_code: str) -> list[RouteRecord] | None:
        """The routes with these codes; None when the lookup could not finish."""
        if access_code not in self._by_code:
            found, incomplete = find_routes(
                self.client, access_code, None, budget=LookupBudget(LOOKUP_RECORDS), deadline=Deadline(self.seconds)
            )
            table: dict[str, list[RouteRecord]] = {}
            for record in found:
                table.setdefault(record.ext_code, []).append(record)
            self._by_code[access_code] = table if incomplete is None else None
        known = self._by_code[access_code]
        return None if known is None else known.get(ext_code, [])

    def find_new(self, access_code: str, ext_code: str) -> RouteRecord | None:
        """The route just created: narrowed by both codes, then by the access code alone."""
        deadline = Deadline(self.seconds)
        narrowed = scan(
            self.client,
            {"accessCode": access_code, "extCode": ext_code},
            budget=LookupBudget(LOOKUP_RECORDS),
            deadline=deadline,
        )
        found = [r for r in narrowed.records if (r.access_code, r.ext_code) == (access_code, ext_code)]
        if not found:
            wide, _ = find_routes(
                self.client, access_code, ext_code, budget=LookupBudget(LOOKUP_RECORDS), deadline=deadline
            )
            found = wide
        if found:
            table = self._by_code.get(access_code)
            if table is not None:
                table[ext_code] = found
        return found[0] if found else None


# -- restoring --------------------------------------------------------------------------


def create_body(route: Route) -> dict[str, Any]:
    """createCalledRoute's fields (reference section 4), with the recorded media type."""
    body: dict[str, Any] = {
        "accessCode": route.access_code,
        "extCode": route.ext_code,
        "devicetype": route.devicetype,
        "deviceId": route.device_id,
    }
    if route.media_type_id is not None:
        body["mediaTypeId"] = route.media_type_id
    return body


def console_notes(route: Route, now: RouteRecord | None) -> list[dict[str, Any]]:
    """The recorded fields that differ from the tenant's route (``now``; None: the route
    createCalledRoute would make), which the API cannot set, and what to do about each."""
    notes: list[dict[str, Any]] = []
    recorded_editable = route.editable or "0"
    now_editable = (now.editable or "0") if now is not None else "0"  # the API creates editable routes
    if recorded_editable != now_editable:
        notes.append({
            "field": "editable",
            "recorded": route.editable,
            "now": now.editable if now is not None else None,
            "action": f"createCalledRoute has no editable field: set editable {recorded_editable} again in {CONSOLE}",
        })  # fmt: skip
    now_media = now.media_type_id if now is not None else route.media_type_id
    if route.media_type_id is None and (now is None or now_media is not None):
        notes.append({
            "field": "mediaTypeId",
            "recorded": None,
            "now": now_media,
            "action": f"the route had no media type and createCalledRoute gives one (default 5): check it in {CONSOLE}",
        })  # fmt: skip
    elif route.media_type_id is not None and now_media is not None and now_media != route.media_type_id:
        notes.append({
            "field": "mediaTypeId",
            "recorded": route.media_type_id,
            "now": now_media,
            "action": f"the tenant shows another media type: correct it in {CONSOLE}",
        })  # fmt: skip
    return notes


def report_of(route: Route) -> dict[str, Any]:
    report: dict[str, Any] = {
        "status": "not_restorable",
        "section": route.section,
        "requestId": route.request_id,
        "recordId": route.record,
        "old": {"dnid": route.dnid, "id": route.old_id},
        "verified": route.verified,
    }
    if route.restorable is None:
        report.update(create_body(route))
        report.setdefault("mediaTypeId", None)
    else:
        report["description"] = route.restorable
    return report


def settle(route: Route, tenant: Tenant, *, apply: bool) -> dict[str, Any]:
    report = report_of(route)
    if route.restorable is not None:
        return report
    existing = tenant.routes(route.access_code, route.ext_code)
    if existing is None:
        report.update(status="unknown", description=f"the lookup of access code {route.access_code} could not finish")
        return report
    same = [r for r in existing if (r.devicetype, r.device_id) == (route.devicetype, route.device_id)]
    if same:
        report.update(
            status="exists", new={"dnid": same[0].dnid, "id": same[0].id}, console=console_notes(route, same[0])
        )
        return report
    if existing:
        other = existing[0]
        report.update(
            status="conflict",
            description=f"the codes exist bound to {DEVICE_TYPES.get(other.devicetype or 0, other.devicetype)}"
            f" {other.device_id} (dnid {other.dnid}): left alone; decide in {CONSOLE}",
        )
        return report
    report["console"] = console_notes(route, None)
    if not apply:
        report["status"] = "would_create"
        return report
    answer = tenant.client.create_called_route(create_body(route), Deadline(tenant.seconds))
    code = str(answer.get("returnCode")) if isinstance(answer, dict) else "?"
    if code != "0":
        description = answer.get("description") if isinstance(answer, dict) else None
        report.update(
            status="failed", description=f"createCalledRoute returnCode {code[:20]}: {str(description)[:200]}"
        )
        return report
    created = tenant.find_new(route.access_code, route.ext_code)
    if created is None:
        report.update(status="failed", description="created, but the lookup after it did not find it: run again")
        return report
    report.update(
        status="restored", new={"dnid": created.dnid, "id": created.id}, console=console_notes(route, created)
    )
    return report


def line_of(report: dict[str, Any]) -> str:
    codes = f"{report['accessCode']}+{report['extCode'] or '(none)'}" if "accessCode" in report else "?"
    old = f"was dnid {report['old']['dnid']} id {report['old']['id']}"
    target = ""
    if "devicetype" in report:
        kind = DEVICE_TYPES.get(report["devicetype"], report["devicetype"])
        target = f"  {kind} {report['deviceId']} media {report['mediaTypeId']}"
    new = f" -> dnid {report['new']['dnid']} id {report['new']['id']}" if "new" in report else ""
    text = f"{report['status']:<14} {codes}{target}  ({old}, request {report['requestId']}){new}"
    if "description" in report:
        text += f"  {report['description']}"
    if not report["verified"]:
        text += "  [SIGNATURE NOT VERIFIED]"
    for note in report.get("console", []):
        text += f"\n    {note['field']}: recorded {note['recorded']}, now {note['now']}: {note['action']}"
    return text


def _read(name: str) -> bytes:
    if name == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        with Path(name).open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise InputProblem(f"{name}: larger than {MAX_INPUT_BYTES // 2**20} MiB")
    return data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Re-create called routes from the function's signed audit records.")
    parser.add_argument("files", nargs="+", help="files of audit entries; - for stdin")
    parser.add_argument("--apply", action="store_true", help="re-create the missing routes (default: preview)")
    parser.add_argument("--request-id", help="only the entries of this request")
    parser.add_argument("--plan-id", help="only the entries of this plan")
    parser.add_argument("--json", action="store_true", help="print one JSON report (with the old -> new map)")
    parser.add_argument(
        "--include-unverified",
        action="store_true",
        help="also the routes recorded as unverified (sent, then gone: perhaps deleted by someone else)",
    )
    parser.add_argument(
        "--verify-credentials",
        action="append",
        default=[],
        metavar="FILE",
        help='a JSON file {"app_key", "app_secret"} of an earlier AK/SK, to verify records signed before a rotation',
    )
    parser.add_argument(
        TRUST_FLAG,
        dest="trust",
        action="store_true",
        help="DANGEROUS: use entries whose signature is missing or does not verify (a forged entry can bind a"
        " hotline to a target of an attacker's choice)",
    )
    return parser


def _entries(args: argparse.Namespace) -> list[Entry]:
    """The selected entries of the input files; InputProblem (one line per problem) otherwise."""
    named: list[tuple[str, bytes]] = []
    try:
        for name in args.files:
            named.append((name, _read(name)))
    except OSError as exc:
        raise InputProblem(f"cannot read {exc.filename}: {exc.strerror}") from None
    entries, problems = read_entries(named)
    if problems:
        raise InputProblem("\n".join(problems))
    entries = [
        e for e in entries
        if (not args.request_id or e.audit.get("requestId") == args.request_id)
        and (not args.plan_id or e.audit.get("planId") == args.plan_id)
    ]  # fmt: skip
    if not entries:
        raise InputProblem(f"No audit entries ({MESSAGE!r}) found in the input for this selection.")
    return entries


def _configured() -> Settings:
    try:
        settings = load_settings()
    except FunctionError as exc:
        raise InputProblem(exc.detail) from None
    has_credentials = settings.cec_credentials_file or settings.cec_credentials_secret or (
        settings.cec_app_key and settings.cec_app_secret
    )  # fmt: skip
    if not settings.cec_base_url or not has_credentials:
        raise InputProblem(
            "Set CEC_BASE_URL and the CEC credentials as the function has them: CEC_CREDENTIALS_FILE,"
            " CEC_CREDENTIALS_SECRET, or CEC_APP_KEY and CEC_APP_SECRET."
        )
    return settings


def _finish(args: argparse.Namespace, records: Records, reports: list[dict[str, Any]]) -> int:
    good = ("restored", "exists") if args.apply else ("would_create", "exists")
    missing = [r for r in reports if r["status"] not in good]
    if args.json:
        mapping = {
            r["old"]["dnid"]: {"dnid": r["new"]["dnid"], "id": r["new"]["id"], "oldId": r["old"]["id"]}
            for r in reports
            if "new" in r
        }
        not_back = [{"dnid": r["old"]["dnid"], "status": r["status"], "requestId": r["requestId"]} for r in missing]
        document = {
            "applied": args.apply,
            "routes": reports,
            "map": mapping,
            "notBack": not_back,
            "incompleteRecords": records.incomplete,
            "unverifiedNotSelected": records.unverified_skipped,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    for text in records.incomplete:
        print(text, file=sys.stderr)
    if records.unverified_skipped:
        print(
            f"{records.unverified_skipped} route(s) recorded as unverified (gone, perhaps not by these requests)"
            " were not selected: add --include-unverified to restore them too.",
            file=sys.stderr,
        )
    if missing:
        names = ", ".join(f"dnid {r['old']['dnid']} ({r['status']})" for r in missing[:50])
        more = f" and {len(missing) - 50} more" if len(missing) > 50 else ""
        verb = "are not back" if args.apply else "would not be back"
        print(f"{len(missing)} route(s) {verb}: {names}{more}", file=sys.stderr)
    if missing or records.incomplete:
        return 1
    if not args.apply and not args.json:
        count = sum(r["status"] == "would_create" for r in reports)
        print(f"\n{count} route(s) would be re-created; run again with --apply.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        entries = _entries(args)
        settings = _configured()
        client, credentials = build_client(settings)
        try:
            keys = signing_keys(settings, credentials, args.verify_credentials)
        except FunctionError as exc:
            raise InputProblem(f"cannot read the CEC credentials: {exc.detail}") from None
        records, problems, untrusted = check(entries, keys, trust=args.trust, unverified=args.include_unverified)
        if problems:
            plural = "entry" if len(problems) == 1 else "entries"
            raise InputProblem("\n".join([*problems, f"{len(problems)} unusable {plural}: nothing was created."]))
    except InputProblem as exc:
        print(exc, file=sys.stderr)
        return 2
    if untrusted:
        print(
            f"WARNING: {untrusted} entries used WITHOUT a valid signature ({TRUST_FLAG}). Check every route"
            " below before --apply: a forged entry can bind a hotline to a target of an attacker's choice.",
            file=sys.stderr,
        )
    tenant = Tenant(client, max(30.0, settings.request_budget_seconds))
    reports: list[dict[str, Any]] = []
    for route in records.routes:
        try:
            report = settle(route, tenant, apply=args.apply)
        except FunctionError as exc:
            report = {**report_of(route), "status": "failed", "description": f"{exc.code}: {exc.detail}"}
        reports.append(report)
        if not args.json:
            print(line_of(report), flush=True)
        elif args.apply:
            print(line_of(report), file=sys.stderr, flush=True)
    return _finish(args, records, reports)


if __name__ == "__main__":
    raise SystemExit(main())
