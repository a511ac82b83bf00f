"""Per-route outcomes: what happened to each requested route, from the API's answers and lookups.

deleteCalledRoute reports route *names* (access code + extension glued together),
which are ambiguous (``99114111`` is ``9911411``+``1`` or ``99114111``+``""``) and say
nothing about dnids the API did not recognise. Where an answer is not a clean
"everything deleted", the batch's dnids are looked up again and the outcome follows
from what still exists: present means not deleted, absent means the goal holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from function import redact
from function.cec.lookup import RouteRecord
from function.cec.results import BatchAnswer

Outcome = Literal["deleted", "already_absent", "protected", "changed", "failed", "not_sent", "unknown"]
SUCCESS: frozenset[str] = frozenset({"deleted", "already_absent"})


@dataclass(frozen=True)
class RouteOutcome:
    outcome: Outcome
    description: str | None = None


def is_clean(batch: list[str], answer: BatchAnswer | None, known: dict[str, RouteRecord]) -> bool:
    """An answer that settles its batch without a lookup: the documented all-deleted form,
    one name (and no id, or one id) per dnid sent, among them the name (and id) of every
    route whose record is known; when all are known, that is exactly the routes sent."""
    if answer is None or not answer.exact or answer.failed:
        return False
    if len(answer.deleted) != len(batch) or len(answer.ids) not in (0, len(batch)):
        return False
    sent = [record for record in (known.get(dnid) for dnid in batch) if record is not None]
    names_match = Counter(r.name for r in sent) <= Counter(answer.deleted)
    return names_match and (not answer.ids or Counter(r.id for r in sent) <= Counter(answer.ids))


def assign(
    batch: list[str],
    answer: BatchAnswer | None,
    *,
    error: str | None,
    known: dict[str, RouteRecord],
    present: dict[str, RouteRecord],
    proven: bool,
    may_still_act: bool = False,
) -> dict[str, RouteOutcome]:
    """Outcomes for one batch.

    ``known``: records looked up before deleting, possibly empty. ``present``: the
    batch's records seen after the call (they exist). ``proven``: whether that lookup
    read the whole listing, so that a route not in ``present`` is proven gone.
    ``may_still_act``: the call went out and got no answer (a timeout, a broken
    connection), so the API may act on it after the lookup: a route seen then is unknown.
    """
    if answer is None and error is None:
        return dict.fromkeys(batch, RouteOutcome("not_sent", "an earlier batch failed; this one was not sent"))
    if is_clean(batch, answer, known):
        return dict.fromkeys(batch, RouteOutcome("deleted"))
    # The answer's description is masked already; an error's detail may quote upstream text.
    description = answer.description if answer is not None else (redact.mask(error) if error else error)
    outcomes: dict[str, RouteOutcome] = {}
    gone: list[str] = []
    for dnid in batch:
        record = present.get(dnid)
        if record is not None and may_still_act:
            outcomes[dnid] = RouteOutcome(
                "unknown",
                "still there after a call that got no answer, which the API may yet act on: send it again to settle it",
            )
        elif record is not None:
            outcomes[dnid] = RouteOutcome("failed" if record.deletable else "protected", description)
        else:
            gone.append(dnid)
    if not proven:
        outcomes.update(_by_name(gone, answer, description, known))
        return outcomes

    deleted_names = Counter(answer.deleted if answer is not None else [])
    unattributed: list[str] = []
    for dnid in gone:
        before = known.get(dnid)
        if before is not None and deleted_names[before.name] > 0:
            deleted_names[before.name] -= 1
            outcomes[dnid] = RouteOutcome("deleted")
        elif before is not None and answer is None:
            # Gone, but by this call (its answer lost) or by a concurrent request: not
            # knowable, so not claimed.
            outcomes[dnid] = RouteOutcome(
                "already_absent", "gone; the call got no answer, so whether this request removed it is unknown"
            )
        elif before is not None:
            outcomes[dnid] = RouteOutcome("already_absent", "gone, though the API did not report deleting it")
        else:
            unattributed.append(dnid)

    # Absent dnids whose names are unknown: the API's count of deletions tells how
    # many of them this call removed, not which.
    left = sum(deleted_names.values())
    for dnid in unattributed:
        if answer is None:
            outcomes[dnid] = RouteOutcome(
                "already_absent", "gone; the call got no answer, so whether this request removed it is unknown"
            )
        elif left >= len(unattributed):
            outcomes[dnid] = RouteOutcome("deleted")
        elif left == 0:
            outcomes[dnid] = RouteOutcome("already_absent")
        else:
            outcomes[dnid] = RouteOutcome(
                "already_absent",
                f"gone after this request; the API reported {left} of these {len(unattributed)} as deleted by it",
            )
    return outcomes


def _by_name(
    batch: list[str], answer: BatchAnswer | None, description: str | None, known: dict[str, RouteRecord]
) -> dict[str, RouteOutcome]:
    """When the lookup after the call could not read the whole listing: a route the API
    named as deleted, unambiguously within the batch, is taken at its word; any other is
    unknown. A route it named as failed is unknown too: not seen, it may be gone (a retried
    call answers "failed" for a route its first attempt deleted)."""
    deleted = Counter(answer.deleted if answer is not None else [])
    outcomes: dict[str, RouteOutcome] = {}
    unverified = "could not be verified: " + (description or "no answer")
    names_in_batch = Counter(known[dnid].name for dnid in batch if dnid in known)
    for dnid in batch:
        record = known.get(dnid)
        name = record.name if record is not None else None
        if name is not None and names_in_batch[name] == 1 and deleted[name] > 0:
            deleted[name] -= 1
            outcomes[dnid] = RouteOutcome("deleted")
        else:
            outcomes[dnid] = RouteOutcome("unknown", unverified)
    return outcomes
