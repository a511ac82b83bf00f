"""The audit record of a deletion: who deleted which routes, as they were last seen, signed.

One record per request that sent routes which are gone afterwards, written as one or
more structured log entries (``part`` 1..``parts``, all with the same ``recordId`` and
``requestId``), each with its own message (``called routes deleted``) and a label a log
sink filters on (``logging.googleapis.com/labels``: ``{"audit": "cec-called-routes"}``).
scripts/restore_routes.py reads them back, verifies their signatures and re-creates the
routes; docs/AUDIT_AND_UNDO.md describes the schema.

Parts are cut by encoded size (PART_BYTES of JSON with every non-ASCII character
escaped, an upper bound of what the log line holds), never by a route count, so a part
stays far below the log formatter's line cap and Cloud Logging's 256 KB whatever the
fields hold. A route too large for a part on its own gets a part to itself with each
string field bounded to FIELD_BYTES; ``boundedFields`` names the fields cut, with
their full length and SHA-256, so that the restore knows what it holds.

Every part is signed with HMAC-SHA256 over its canonical JSON. The key is derived from
the CEC AK/SK (which whoever restores holds anyway) under a label of its own, or from
the first of AUDIT_SIGNING_KEYS when that is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from function import log
from function.budget import Deadline
from function.callers.auth import Caller
from function.cec.credentials import CecCredentials, CredentialProvider
from function.cec.lookup import RouteRecord
from function.models import DeleteResult
from function.secret_manager import SecretReader
from function.settings import Settings

MESSAGE = "called routes deleted"
LABELS = {"audit": "cec-called-routes"}
SCHEMA_VERSION = 2
# One part's audit object, measured as JSON with every non-ASCII character escaped
# (at least as long as the UTF-8 line the formatter writes): half the line cap.
PART_BYTES = 64 * 1024
# A string field of a route too large for a part is cut to this many encoded bytes.
FIELD_BYTES = 4096
SIGNATURE_ALG = "HMAC-SHA256"
KEY_LABEL = b"cec-called-routes audit record signing v1"
DELETED = ("deleted",)
UNVERIFIED = ("already_absent", "unknown")


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes = field(repr=False)


def _key(material: bytes, context: bytes, kind: str) -> SigningKey:
    secret = hmac.new(material, KEY_LABEL + b"\x00" + context, hashlib.sha256).digest()
    key_id = hashlib.sha256(b"key id\x00" + secret).hexdigest()[:16]
    return SigningKey(f"{kind}:{key_id}", secret)


def key_from_credentials(app_key: str, app_secret: str) -> SigningKey:
    """The default key: derived from the AK/SK under a label used for nothing else."""
    return _key(app_secret.encode("utf-8"), app_key.encode("utf-8"), "aksk")


def keys_from_setting(value: str) -> list[SigningKey]:
    """AUDIT_SIGNING_KEYS: a comma list; the first signs, all verify."""
    return [_key(k.strip().encode("utf-8"), b"dedicated", "key") for k in value.split(",") if k.strip()]


# The key the function signs with: set when credentials are read (SigningCredentials),
# or from AUDIT_SIGNING_KEYS when the runtime is built.
_signing_key: SigningKey | None = None


class SigningCredentials(CredentialProvider):
    """The function's credential provider, which also keeps the audit signing key in
    step with the AK/SK it last read, so the audit never reads a secret itself."""

    def __init__(self, settings: Settings, secrets: SecretReader) -> None:
        global _signing_key
        super().__init__(settings, secrets)
        dedicated = settings.audit_signing_keys.get_secret_value() if settings.audit_signing_keys else ""
        self._dedicated = keys_from_setting(dedicated)[:1]
        _signing_key = self._dedicated[0] if self._dedicated else None
        self._seen: CecCredentials | None = None

    def get(self, deadline: Deadline) -> CecCredentials:
        global _signing_key
        credentials = super().get(deadline)
        if credentials is not self._seen:
            self._seen = credentials
            if not self._dedicated:
                _signing_key = key_from_credentials(credentials.app_key, credentials.app_secret)
        return credentials


def _normal(value: Any) -> Any:
    # Cloud Logging keeps jsonPayload numbers as doubles: 5 may come back as 5.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical(audit: Mapping[str, Any], *, as_written: bool = False) -> bytes:
    """What is signed: the part without its signature, keys sorted, ASCII only.
    ``as_written``: the writer's own part, whose numbers need no normalising."""
    body = {k: v for k, v in audit.items() if k != "signature"}
    if not as_written:
        body = _normal(body)
    return _CANONICAL.encode(body).encode("ascii")


def sign(audit: dict[str, Any], key: SigningKey, message: bytes | None = None) -> None:
    """Sign ``audit`` (``message``: its canonical form, when the caller has it already)."""
    message = canonical(audit, as_written=True) if message is None else message
    mac = hmac.new(key.secret, message, hashlib.sha256).digest()
    value = base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")
    audit["signature"] = {"alg": SIGNATURE_ALG, "keyId": key.key_id, "value": value}


def verify(audit: Mapping[str, Any], keys: Sequence[SigningKey]) -> str | None:
    """None when one of ``keys`` signed this part as it is; otherwise why not."""
    signature = audit.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return "unsigned (no signature)"
    if signature.get("alg") != SIGNATURE_ALG:
        return f"signed with an unknown algorithm {str(signature.get('alg'))[:40]!r}"
    try:
        given = base64.urlsafe_b64decode(signature["value"] + "=" * (-len(signature["value"]) % 4))
        message = canonical(audit)
    except (ValueError, TypeError, RecursionError):
        return "signature or content unreadable"
    for key in keys:
        if hmac.compare_digest(hmac.new(key.secret, message, hashlib.sha256).digest(), given):
            return None
    key_id = str(signature.get("keyId"))[:40]
    if any(key.key_id == key_id for key in keys):
        return f"altered after signing (key {key_id} is known, the signature does not match the content)"
    return f"signed with key {key_id!r}, which is none of the keys given (another key, or altered)"


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


def _size(value: Any) -> int:
    # The formatter's separators, every non-ASCII character as \uXXXX: an upper bound.
    return len(json.dumps(value, ensure_ascii=True))


def _bounded_text(text: str, limit: int) -> str:
    # A character is at most 12 bytes escaped (a surrogate pair): short text needs no measuring.
    if len(text) * 12 + 2 <= limit or _size(text) <= limit:
        return text
    low, high = 0, min(len(text), limit)
    while low < high:  # the longest prefix that fits
        mid = (low + high + 1) // 2
        if _size(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def _bounded_route(route: dict[str, Any]) -> dict[str, Any]:
    """A route too large for a part: each string field cut to FIELD_BYTES, and said so."""
    short = dict(route)
    cut: dict[str, Any] = {}
    for name, value in route.items():
        if isinstance(value, str) and _size(value) > FIELD_BYTES:
            short[name] = _bounded_text(value, FIELD_BYTES)
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
            cut[name] = {"chars": len(value), "keptChars": len(short[name]), "sha256": digest}
    short["boundedFields"] = cut
    return short


# As long as any signature written: "aksk:" or "key:" and 16 hex digits, 43 base64 characters.
_PROBE_SIGNATURE = {"alg": SIGNATURE_ALG, "keyId": "x" * 21, "value": "x" * 43}
_SIGNATURE_BYTES = len(json.dumps({"signature": _PROBE_SIGNATURE}))


@dataclass
class _Item:
    section: str  # routes, unverified, names, ids
    value: Any
    not_restorable: str | None = None  # the dnid to list under notRestorable with it

    def size(self) -> int:
        extra = _size(self.not_restorable) + 2 if self.not_restorable is not None else 0
        return _size(self.value) + 2 + extra


def _parts(header: dict[str, Any], items: list[_Item], with_api: bool) -> list[tuple[dict[str, Any], bytes | None]]:
    """The parts, each with its canonical form when it was computed on the way."""

    def empty() -> dict[str, Any]:
        part: dict[str, Any] = {**header, "routes": [], "unverified": [], "notRestorable": []}
        if with_api:
            part["apiReported"] = {"names": [], "ids": []}
        return part

    def add(part: dict[str, Any], item: _Item) -> None:
        if item.section in ("names", "ids"):
            part["apiReported"][item.section].append(item.value)
        else:
            part[item.section].append(item.value)
        if item.not_restorable is not None:
            part["notRestorable"].append(item.not_restorable)

    if len(items) <= 64:
        # The usual record: one part, measured by its canonical form (which is signed
        # next): the formatter's separators add one character after each of its
        # separators, so the line's object is at most twice as long, plus a signature.
        whole = {**empty(), "part": 1, "parts": 1}
        for item in items:
            add(whole, item)
        body = canonical(whole, as_written=True)
        if 2 * len(body) + _SIGNATURE_BYTES <= PART_BYTES:
            return [(whole, body)]
    # The empty part with the largest numbers and a signature: what every part carries.
    probe = {**empty(), "part": 10**9, "parts": 10**9, "signature": _PROBE_SIGNATURE}
    room = PART_BYTES - _size(probe)
    parts: list[dict[str, Any]] = []
    current, used = empty(), 0
    for item in items:
        size = item.size()
        if size > room:
            # Alone in a part, bounded (only routes can be this large: names and ids are
            # bounded before they get here).
            if used:
                parts.append(current)
                current, used = empty(), 0
            item.value = _bounded_route(item.value)
            add(current, item)
            parts.append(current)
            current = empty()
            continue
        if used + size > room:
            parts.append(current)
            current, used = empty(), 0
        add(current, item)
        used += size
    if used or not parts:
        parts.append(current)
    return [(part, None) for part in parts]


def _entry(dnid: str, records: Mapping[str, RouteRecord], known: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    record = records.get(dnid)
    if record is not None:
        return route_entry(record), True
    # Only what the answer knew: not enough to re-create the route.
    entry = {"dnid": dnid, **{k: v for k, v in known.get(dnid, {}).items() if v}}
    return entry, False


def audit_result(
    result: DeleteResult,
    records: Mapping[str, RouteRecord] | None,
    caller: Caller,
    selector: str,
    plan_id: str | None,
) -> None:
    """Write the audit record of ``result``: every route it sent that is gone.

    ``deleted`` routes go under ``routes``; ``already_absent`` and ``unknown`` ones
    under ``unverified`` (gone, perhaps not by this request). ``records``: the routes as
    looked up before the delete (dnid -> record; None or incomplete when no lookup could
    be made): a route without one is written with its dnid only and listed under
    ``notRestorable``. Without per-route results (a clean answer, no lookup) every dnid
    sent counts as deleted."""
    outcomes = {r.dnid: r for r in result.results if r.dnid} if result.results is not None else None
    known: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    unverified: list[str] = []
    for dnid in dict.fromkeys(result.dnids):
        if outcomes is None:
            deleted.append(dnid)
            continue
        outcome = outcomes.get(dnid)
        if outcome is None or outcome.outcome in UNVERIFIED:
            unverified.append(dnid)
        elif outcome.outcome in DELETED:
            deleted.append(dnid)
        else:
            continue
        if outcome is not None:
            known[dnid] = {"id": outcome.id, "accessCode": outcome.access_code, "extCode": outcome.ext_code}
    if not deleted and not unverified:
        return
    records = records or {}
    items: list[_Item] = []
    lost = 0
    for section, dnids in (("routes", deleted), ("unverified", unverified)):
        for dnid in dnids:
            entry, full = _entry(dnid, records, known)
            items.append(_Item(section, entry, None if full else dnid))
            lost += not full
    with_api = lost > 0
    if with_api:
        # Names and ids the API reported: they cannot be paired with dnids, but say
        # which routes went when the records are not known.
        items += [_Item("names", _bounded_text(n, FIELD_BYTES)) for n in result.deleted]
        items += [_Item("ids", _bounded_text(i, FIELD_BYTES)) for i in result.ids]
    header: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "recordId": os.urandom(8).hex(),
        "requestId": result.request_id,
        "principal": _bounded_text(caller.principal, FIELD_BYTES),
        "method": caller.method,
        "selector": selector,
        "recordsKnown": "full" if lost == 0 else "dnid" if lost == len(deleted) + len(unverified) else "partial",
        "deletedCount": len(deleted),
        "unverifiedCount": len(unverified),
        "notRestorableCount": lost,
    }
    if plan_id is not None:
        header["planId"] = plan_id
    parts = _parts(header, items, with_api)
    key = _signing_key
    for number, (part, body) in enumerate(parts, start=1):
        part["part"], part["parts"] = number, len(parts)
        if key is not None:
            sign(part, key, body)
        log.event(
            logging.INFO,
            MESSAGE,
            severity="NOTICE",
            **{"logging.googleapis.com/labels": dict(LABELS)},
            audit=part,
        )
