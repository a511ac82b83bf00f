"""Plan tokens: a signed snapshot of the routes a dry run showed, so that applying it
deletes exactly what was approved.

A token is ``p1.<key id>.<payload>.<mac>``: the payload is zlib-compressed compact
JSON in base64url, the MAC is HMAC-SHA256 over ``p1.<key id>.<payload>`` with the key
that ``<key id>`` names (the first 8 hex digits of the key's SHA-256, so that a
verifier picks its key without trying every one and the id says nothing about the
key). Tokens are signed, not encrypted: the payload holds only what the dry run's
answer showed the same caller.

A token is read strictly: its shape (ASCII, four parts, canonical unpadded base64url
with nothing before or after) is checked before the MAC, so that an altered token,
even one that decodes to the same bytes (``=`` or junk appended, stray bits in the
last character), is refused rather than given a fingerprint of its own. The MAC is
checked (in constant time) before anything of the payload is decompressed or parsed,
so only tokens signed with a configured key are ever inflated; a payload is still
read defensively, bounded in size, nesting and numbers, since a key can leak.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from function.cec.lookup import RouteRecord
from function.errors import FunctionError

# The request-facing limits (planTtlSeconds, the token's length) are part of the
# contract and live in function/models.py, which the layers below this one may import.
from function.models import MAX_TOKEN_CHARS

VERSION = "p1"
# Routes per token. 1000 routes make a token of about 15 KB (bench/plan_token_size.py):
# comfortable in a JSON body, too long for most headers; a dry run past the cap
# answers its plan without a token and says why.
DEFAULT_MAX_ROUTES = 1000
HARD_MAX_ROUTES = 5000
MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
# A token, exactly: version, key id (8 hex digits), payload and a 32-byte MAC (43
# characters) in unpadded base64url. Nothing else verifies, not even whitespace.
_TOKEN = re.compile(r"p1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")
# The payload is an object of lists of lists: deeper nesting is not ours.
MAX_DEPTH = 3
_INNERMOST = re.compile(rb"\[\]|\{\}")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# Times are Unix seconds up to the year 9999; the route numbers are CEC's 32-bit and
# 64-bit integers. A number outside these (1e400, -1e30) was not written by issue().
MAX_EPOCH = 253_402_300_799
MAX_INT = 2**64


class PlanInvalid(FunctionError):
    status, code, title = 400, "plan_invalid", "The plan token is not valid"


class PlanExpired(FunctionError):
    status, code, title = 422, "plan_expired", "The plan token has expired"


class PlanWrongCaller(FunctionError):
    status, code, title = 403, "plan_wrong_caller", "The plan token belongs to another caller"


@dataclass(frozen=True)
class PlannedSnapshot:
    """One approved route: what the dry run saw, and what applying compares against."""

    dnid: str
    id: str
    access_code: str
    ext_code: str
    devicetype: int | None
    device_id: int | None

    @classmethod
    def of(cls, record: RouteRecord) -> PlannedSnapshot:
        return cls(record.dnid, record.id, record.access_code, record.ext_code, record.devicetype, record.device_id)

    def matches(self, record: RouteRecord) -> bool:
        """Whether ``record`` is still the approved route. deviceDesc is left out on
        purpose: renaming a queue does not change which route this is."""
        return PlannedSnapshot.of(record) == self


@dataclass(frozen=True)
class Plan:
    plan_id: str
    scope: str
    issued_at: int
    expires_at: int
    routes: tuple[PlannedSnapshot, ...]

    @property
    def expires_at_rfc3339(self) -> str:
        return rfc3339(self.expires_at)


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


# Trimmed around each key, as around an API key: NBSP and the like are part of a key.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def parse_keys(text: str) -> list[bytes]:
    """A comma (or newline) list of keys; the first one signs."""
    keys = (k.strip(_ASCII_WHITESPACE) for k in text.replace("\n", ",").split(","))
    return [k.encode("utf-8") for k in keys if k]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Canonical unpadded base64url only: the one spelling _b64 gives of some bytes."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


class PlanSigner:
    """Signs with the first key, verifies with any of them."""

    def __init__(self, keys: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._signing = keys[0]
        self._keys = {key_id(k): k for k in reversed(keys)}  # the first key wins an id clash
        self._clock = clock

    def issue(self, scope: str, records: Sequence[RouteRecord], ttl_seconds: int) -> tuple[str, Plan]:
        now = int(self._clock())
        plan = Plan(
            plan_id="plan-" + secrets.token_hex(8),
            scope=scope,
            issued_at=now,
            expires_at=now + ttl_seconds,
            routes=tuple(PlannedSnapshot.of(r) for r in records),
        )
        payload = {
            "pid": plan.plan_id,
            "scope": plan.scope,
            "iat": plan.issued_at,
            "exp": plan.expires_at,
            # Positional, to keep tokens small: dnid, id, accessCode, extCode, devicetype, deviceId.
            "r": [[r.dnid, r.id, r.access_code, r.ext_code, r.devicetype, r.device_id] for r in plan.routes],
        }
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        body = _b64(zlib.compress(raw, 9))
        kid = key_id(self._signing)
        signed = f"{VERSION}.{kid}.{body}"
        return f"{signed}.{_b64(self._mac(self._signing, signed))}", plan

    def verify(self, token: str, scope: str) -> Plan:
        """The plan a token carries; raises PlanInvalid, PlanExpired or PlanWrongCaller."""
        if len(token) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(token):
            raise PlanInvalid(
                "The planToken is not a plan token of this function (expected p1.<kid>.<payload>.<mac>"
                " in unpadded base64url, exactly as the dry run returned it)."
            )
        version, kid, body, mac = token.split(".")
        key = self._keys.get(kid)
        if key is None:
            raise PlanInvalid(
                "The planToken was signed with a key this function does not have (rotated out of"
                " PLAN_SIGNING_KEYS, or from another deployment); make a new dry run."
            )
        try:
            given = _unb64(mac)
        except (binascii.Error, ValueError):
            given = b""  # stray bits in the last character: not the MAC's spelling
        if not hmac.compare_digest(given, self._mac(key, f"{version}.{kid}.{body}")):
            raise PlanInvalid("The planToken's signature does not match: it was altered or truncated.")
        plan = _decode(body)
        if int(self._clock()) >= plan.expires_at:
            raise PlanExpired(
                f"The plan {plan.plan_id} expired at {plan.expires_at_rfc3339};"
                " make a new dry run and approve it again."
            )
        if not hmac.compare_digest(plan.scope.encode("utf-8"), scope.encode("utf-8")):
            raise PlanWrongCaller(
                f"The plan {plan.plan_id} was made for another caller;"
                " only the caller who ran the dry run may apply it."
            )
        return plan

    @staticmethod
    def _mac(key: bytes, signed: str) -> bytes:
        return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()


def _decode(body: str) -> Plan:
    """The payload of a token whose MAC has been checked: ours, but still read defensively."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(_unb64(body), MAX_PAYLOAD_BYTES)
        if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
            raise ValueError("payload too large, cut or followed by more")
        _check_depth(raw)
        data: Any = _PAYLOAD.decode(raw.decode("utf-8"))
        routes = tuple(
            PlannedSnapshot(str(r[0]), str(r[1]), str(r[2]), str(r[3]), _opt_int(r[4]), _opt_int(r[5]))
            for r in data["r"]
        )
        return Plan(str(data["pid"]), str(data["scope"]), _epoch(data["iat"]), _epoch(data["exp"]), routes)
    except (ValueError, KeyError, IndexError, TypeError, zlib.error, binascii.Error, RecursionError):
        raise PlanInvalid("The planToken's payload cannot be read.") from None


def _check_depth(raw: bytes) -> None:
    """Refuses JSON nested deeper than MAX_DEPTH, before the parser recurses into it.

    Strings are dropped, then the brackets left; each pass removes the innermost pairs,
    so that anything left after MAX_DEPTH passes was deeper (or unbalanced)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    for _ in range(MAX_DEPTH):
        brackets = _INNERMOST.sub(b"", brackets)
    if brackets:
        raise ValueError("nested too deeply")


def _no_float(text: str) -> float:
    raise ValueError("not an integer")


# issue() writes integers and strings only: a float, NaN or Infinity is refused.
# (int() itself refuses more than 4300 digits; the values are bounded where read.)
_PAYLOAD = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)


def _epoch(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_EPOCH:
        raise ValueError("not a time")
    return value


def _opt_int(value: object) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if not -MAX_INT <= value <= MAX_INT:
        raise ValueError("integer out of range")
    return value
