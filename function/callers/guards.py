"""The safeguards around a deletion, from settings and secrets: plan-token keys, caller
policies, protected hotlines, and whether a plain dnids delete must look its routes
up first.

Values from the environment are parsed once, when the runtime is built (a mistake is
a 503 ``not_configured`` on every request, like any other setting). Values from
Secret Manager are read through the shared SecretReader and its cache, so a rotation
takes effect within ``SECRET_CACHE_TTL_SECONDS``.

The signing keys are secrets: they are never logged or put in an answer, and they are
registered with the masking registry (function/redact.py) so that no upstream text or
log line can echo them either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from function import redact
from function.budget import Deadline
from function.callers.plans import PlanSigner, parse_keys
from function.callers.policies import NO_CODES, CodePatterns, Policy, PolicyBook
from function.errors import NotConfigured
from function.secret_manager import SecretReader
from function.secret_source import SecretSource, secret_source
from function.settings import Settings

T = TypeVar("T")
LookupFirst = Literal["required", "records"] | None


class Guards:
    def __init__(self, settings: Settings, secrets: SecretReader) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[bytes, Any]] = {}  # setting -> (payload, parsed)
        self.protected: CodePatterns = NO_CODES
        if settings.protected_access_codes:
            self.protected = CodePatterns.parse(settings.protected_access_codes.split(","))
        self.max_plan_routes = settings.plan_max_routes
        self.lookup_before_delete = settings.cec_lookup_before_delete
        self._static_signer: PlanSigner | None = None
        if settings.plan_signing_keys is not None:
            self._static_signer = _signer_from(settings.plan_signing_keys.get_secret_value(), "PLAN_SIGNING_KEYS")
        self._static_policies: PolicyBook | None = None
        if settings.caller_policies:
            self._static_policies = PolicyBook.parse(settings.caller_policies, "CALLER_POLICIES")
        ttl = settings.secret_cache_ttl_seconds
        self._signing_keys = secret_source(
            "PLAN_SIGNING_KEYS",
            file=settings.plan_signing_keys_file,
            secret=settings.plan_signing_keys_secret,
            reader=secrets,
            ttl_seconds=ttl,
            mask=_mask_signing_keys,
        )
        self._policies = secret_source(
            "CALLER_POLICIES",
            file=settings.caller_policies_file,
            secret=settings.caller_policies_secret,
            reader=secrets,
            ttl_seconds=ttl,
        )

    @property
    def plans_configured(self) -> bool:
        return self._static_signer is not None or self._signing_keys is not None

    def signer(self, deadline: Deadline) -> PlanSigner | None:
        """The plan signer, or None when no signing keys are configured."""
        if self._static_signer is not None:
            return self._static_signer
        if self._signing_keys is None:
            return None
        return self._from_secret(self._signing_keys, deadline, _signer_from)

    def policy(self, principal: str, deadline: Deadline) -> Policy | None:
        """The caller's policy; None without CALLER_POLICIES (no restriction)."""
        book = self._static_policies
        if book is None and self._policies is not None:
            book = self._from_secret(self._policies, deadline, PolicyBook.parse)
        return book.for_principal(principal) if book is not None else None

    def lookup_first(self, policy: Policy | None) -> LookupFirst:
        """Whether a plain dnids delete looks its routes up before sending: "required" when
        a safeguard needs their codes (the lookup must then finish), "records" when only
        their audit records need it (the deletion goes ahead without the ones not seen)."""
        if self.protected or (policy is not None and policy.codes is not None):
            return "required"
        return "records" if self.lookup_before_delete else None

    def _from_secret(self, source: SecretSource, deadline: Deadline, parse: Callable[[str, str], T]) -> T:
        payload = source.read(deadline)
        with self._lock:
            cached = self._parsed.get(source.setting)
            if cached is not None and cached[0] == payload:
                return cached[1]  # type: ignore[no-any-return]
        parsed = parse(payload.decode("utf-8", errors="replace"), source.setting)
        with self._lock:
            self._parsed[source.setting] = (payload, parsed)
        return parsed


def _registered_keys(text: str) -> list[bytes]:
    """The signing keys of ``text``, registered with the masking registry."""
    keys = parse_keys(text)
    redact.register("plan_signing_keys", [k.decode("utf-8") for k in keys])
    return keys


def _mask_signing_keys(payload: bytes) -> None:
    """Masks the plan-signing keys of a payload as it arrives, before anything logs the read."""
    _registered_keys(payload.decode("utf-8", errors="replace"))


def _signer_from(text: str, source: str) -> PlanSigner:
    keys = _registered_keys(text)
    if not keys:
        raise NotConfigured(f"{source} holds no key.")
    if any(len(k) < 32 for k in keys):
        # HMAC-SHA256 keys shorter than the hash weaken it; never say which key.
        raise NotConfigured(f"{source}: every key must be at least 32 characters (e.g. openssl rand -base64 32).")
    return PlanSigner(keys)
