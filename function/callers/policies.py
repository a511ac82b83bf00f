"""Per-caller policies and protected hotlines: what a caller may delete, checked before
anything is sent.

``CALLER_POLICIES`` maps a caller principal (``api_key:<name>``, ``webhook``,
``iam:<email>``, ``none``, or ``*`` for everyone else) to a policy. With policies
configured, a principal that has none and no ``*`` entry is refused: a typo in a
principal must not leave a caller unrestricted. ``PROTECTED_ACCESS_CODES`` holds the
hotlines that are never sent to deleteCalledRoute, whoever asks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from function.errors import FunctionError, NotConfigured

# Offending routes listed in a 403; the count says how many there were in all.
MAX_LISTED = 20


class Forbidden(FunctionError):
    status, code, title = 403, "forbidden", "The caller's policy does not allow this request"


@dataclass(frozen=True)
class CodePatterns:
    """Exact access codes and prefixes written ``88*``."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> CodePatterns:
        exact: set[str] = set()
        prefixes: list[str] = []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            if entry.endswith("*"):
                prefixes.append(entry[:-1])
            else:
                exact.add(entry)
        return cls(frozenset(exact), tuple(prefixes))

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def matches(self, access_code: str) -> bool:
        return access_code in self.exact or any(access_code.startswith(p) for p in self.prefixes)


NO_CODES = CodePatterns(frozenset(), ())


class Policy(BaseModel):
    """What one caller may do; a field left out does not restrict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accessCodes: list[str] | None = Field(  # noqa: N815 - the documented JSON spelling
        default=None, description="Access codes this caller may delete: exact codes or prefixes written 88*."
    )
    dryRunOnly: bool = False  # noqa: N815
    requirePlan: bool = False  # noqa: N815
    maxRoutes: int | None = Field(default=None, ge=0)  # noqa: N815

    @property
    def codes(self) -> CodePatterns | None:
        return CodePatterns.parse(self.accessCodes) if self.accessCodes is not None else None


class PolicyBook:
    def __init__(self, policies: dict[str, Policy]) -> None:
        self._policies = policies

    @classmethod
    def parse(cls, text: str, source: str) -> PolicyBook:
        """Raises NotConfigured naming ``source``; never quotes the text."""
        try:
            data = json.loads(text)
        except ValueError:
            raise NotConfigured(f"{source} is not valid JSON.") from None
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise NotConfigured(f"{source} must be a JSON object from caller principal to policy.")
        policies: dict[str, Policy] = {}
        for principal, raw in data.items():
            try:
                policies[principal] = Policy.model_validate(raw)
            except ValidationError as exc:
                fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "policy" for e in exc.errors()}))
                raise NotConfigured(
                    f"{source}: the policy of {principal[:64]!r} is not valid ({fields}); the fields are"
                    " accessCodes, dryRunOnly, requirePlan, maxRoutes."
                ) from None
        return cls(policies)

    def for_principal(self, principal: str) -> Policy:
        policy = self._policies.get(principal) or self._policies.get("*")
        if policy is None:
            raise Forbidden(
                f"CALLER_POLICIES has no policy for {principal} and no '*' entry; no request of this caller is allowed."
            )
        return policy


def check_request(policy: Policy, *, dry_run: bool, with_plan: bool) -> None:
    """What a policy refuses before any route is known."""
    if policy.dryRunOnly and not dry_run:
        raise Forbidden("This caller's policy allows dry runs only (dryRunOnly).")
    if policy.requirePlan and not dry_run and not with_plan:
        raise Forbidden(
            "This caller's policy deletes only through plan tokens (requirePlan):"
            ' make a dry run and send {"planToken": ...}.'
        )


def check_routes(policy: Policy, routes: Sequence[tuple[str, str, str]]) -> None:
    """``routes``: (dnid, accessCode, extCode) of everything the request would send."""
    codes = policy.codes
    if codes is not None:
        outside = [r for r in routes if not codes.matches(r[1])]
        if outside:
            listed = "; ".join(f"dnid {d} ({a}+{e or '(none)'})" for d, a, e in outside[:MAX_LISTED])
            more = f" and {len(outside) - MAX_LISTED} more" if len(outside) > MAX_LISTED else ""
            raise Forbidden(
                f"{len(outside)} of the selected routes are outside this caller's accessCodes: {listed}{more}."
                " Nothing was deleted.",
                errors=[
                    {"pointer": "", "detail": f"dnid {d}: access code {a} is not allowed"}
                    for d, a, _ in outside[:MAX_LISTED]
                ],
            )
    if policy.maxRoutes is not None and len(routes) > policy.maxRoutes:
        raise Forbidden(
            f"The request would delete {len(routes)} routes; this caller's policy allows at most"
            f" {policy.maxRoutes} (maxRoutes). Nothing was deleted."
        )
