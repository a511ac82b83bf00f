"""The reconciliation: the callers' answers checked against the simulator's own record
of what it deleted and what still exists, and against the function's log."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cec_sim.client import FakeSecretManagerControl, SimulatorControl
from tests.load.callers import CallerReport, Exchange, settled
from tests.load.config import CANARIES
from tests.load.routes import Route

# Outcomes that say the route is gone.
SUCCESS = frozenset({"deleted", "already_absent"})

STILL_PRESENT = "reported deleted/already_absent, still present"
NOT_FOUND_PRESENT = "notFound (dry runs included), still present"


@dataclass
class Reconciliation:
    rows: list[tuple[str, str, bool | None]] = field(default_factory=list)  # (what, value, ok?)
    problems: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)

    def check(self, what: str, bad: Iterable[Any] | int, *, detail: str = "") -> None:
        items = sorted(bad) if not isinstance(bad, int) else []
        count = bad if isinstance(bad, int) else len(items)
        ok = count == 0
        self.rows.append((what, str(count), ok))
        if not ok:
            sample = ", ".join(map(str, items[:12])) + (" ..." if len(items) > 12 else "")
            self.problems.append(
                f"{what}: {count}" + (f" ({sample})" if sample else "") + (f"; {detail}" if detail else "")
            )

    def info(self, what: str, value: object) -> None:
        self.rows.append((what, str(value), None))

    @property
    def exact(self) -> bool:
        return not self.problems


def reported_outcomes(body: dict[str, Any], id_to_dnid: dict[str, int]) -> list[tuple[int, str]]:
    """(dnid, outcome) pairs of one result: from ``results`` when present; without it the
    answer was a clean hot-path delete, so every sent dnid was deleted."""
    if body.get("status") == "planned":
        return []
    results = body.get("results")
    if results is None:
        return [(int(d), "deleted") for d in body.get("dnids", [])]
    pairs: list[tuple[int, str]] = []
    for entry in results:
        dnid = entry.get("dnid")
        if dnid is None:
            dnid = id_to_dnid.get(str(entry.get("id")))
        if dnid is not None:
            pairs.append((int(dnid), str(entry.get("outcome"))))
    return pairs


@dataclass
class SimRecord:
    """What the simulator and the fake Secret Manager say happened."""

    deleted_log: list[int]
    present: set[int]
    calls: list[dict[str, Any]]
    secret_reads: int

    @classmethod
    def fetch(cls, sim: SimulatorControl, secrets: FakeSecretManagerControl) -> SimRecord:
        return cls(sim.deleted(), {int(r["dnid"]) for r in sim.routes()}, sim.calls(), len(secrets.calls()))


def check_routes(
    rec: Reconciliation, reports: list[CallerReport], before: dict[int, Route], record: SimRecord
) -> dict[int, Counter[str]]:
    """The routes: what was reported against what the simulator did. Returns the
    outcomes reported per dnid."""
    sim_deleted = set(record.deleted_log)
    id_to_dnid = {r.id: r.dnid for r in before.values()}
    # Claims of "deleted by this request" are kept per idempotency key, since a
    # replay repeats the same claim and is not a second one.
    outcomes: dict[int, Counter[str]] = defaultdict(Counter)
    deleted_claims: dict[int, set[str]] = defaultdict(set)
    claims: dict[int, set[str]] = defaultdict(set)  # who said a route is gone, for the report
    shape_errors: list[str] = []
    not_found: set[str] = set()
    for exchange in (e for r in reports for e in r.exchanges if e.is_result):
        body = exchange.body
        unclean = any(b.get("status") != "deleted" for b in body.get("batches", []))
        if body.get("results") is None and body.get("status") != "planned" and unclean:
            shape_errors.append(exchange.key)
        not_found.update(f"{d} ({exchange.key})" for d in not_found_present(body, before, record.present))
        for dnid, outcome in reported_outcomes(body, id_to_dnid):
            outcomes[dnid][outcome] += 1
            if outcome in SUCCESS:
                claims[dnid].add(f"{outcome} to {exchange.key}")
            if outcome == "deleted":
                deleted_claims[dnid].add(exchange.key)
    reported_gone = {d for d, c in outcomes.items() if c.keys() & SUCCESS}
    reported_deleted = {d for d, c in outcomes.items() if c["deleted"]}
    asked = {d for r in reports for d in r.job.targets}

    rec.info("routes before", len(before))
    rec.info("routes deleted by the simulator", len(sim_deleted))
    rec.info("routes still present", len(record.present))
    rec.info("dnids reported deleted", len(reported_deleted))
    rec.info("dnids reported deleted or already_absent", len(reported_gone))
    rec.info("deleted routes reported only already_absent", len(sim_deleted - reported_deleted))
    rec.check("simulator deleted a route twice", len(record.deleted_log) - len(sim_deleted))
    rec.check("deleted + present != before", abs(len(sim_deleted) + len(record.present) - len(before)))
    rec.check(
        "deleted by the simulator, never reported deleted/already_absent",
        sim_deleted - reported_gone,
        detail="a caller was never told about a deletion",
    )
    still_there = reported_gone & record.present
    rec.check(
        STILL_PRESENT,
        still_there,
        detail="; ".join(f"{d} {'/'.join(sorted(claims[d]))}" for d in sorted(still_there)[:5]),
    )
    rec.check(NOT_FOUND_PRESENT, not_found)
    rec.check("reported deleted, not deleted by the simulator", reported_deleted - sim_deleted)
    rec.check("reported deleted by two different requests", {d for d, k in deleted_claims.items() if len(k) > 1})
    rec.check("deleted though no request asked for it", sim_deleted - asked)
    rec.check("protected routes deleted", {d for d in sim_deleted if before[d].protected})
    rec.check("results missing on an unclean answer", shape_errors)
    return outcomes


def not_found_present(body: dict[str, Any], before: dict[int, Route], present: set[int]) -> list[int]:
    """Routes an answer listed in ``notFound`` that exist at the end. No route is ever
    created during the run, so one present at the end was present all along."""
    by_id = {r.id: r.dnid for r in before.values()}
    wrong: list[int] = []
    for entry in body.get("notFound") or []:
        if "dnid" in entry:
            wrong += [int(entry["dnid"])] if int(entry["dnid"]) in present else []
        elif "id" in entry:
            dnid = by_id.get(str(entry["id"]))
            wrong += [dnid] if dnid in present and dnid is not None else []
        else:
            wrong += [
                d
                for d in present
                if before[d].access_code == entry.get("accessCode")
                and entry.get("extCode") in (None, before[d].ext_code)
            ]
    return wrong


def check_answers(rec: Reconciliation, reports: list[CallerReport], function_log: Path) -> None:
    """The answers themselves: JSON, no 500, replays, the callers' limits, secrets, logs."""
    exchanges = [e for r in reports for e in r.exchanges]
    answered = [e for e in exchanges if e.status is not None]
    rec.check("answers without a JSON body", [f"{e.key}:{e.status}" for e in answered if not e.is_json])
    rec.check("HTTP 500 answers", [f"{e.key}:{e.code}" for e in answered if e.status == 500])
    rec.check("requests without an HTTP answer", [f"{e.key}:{e.error}" for e in exchanges if e.status is None])
    rec.check(
        "replays that differ from the first answer",
        [f"{r.job.key}: {r.replay_problem}" for r in reports if r.replay_problem],
    )
    firsts: dict[str, set[bytes]] = defaultdict(set)
    for report in reports:
        if not report.job.twin:
            continue
        # The first result each twin got under the shared key. A settled one is stored,
        # so the other twin must get it byte for byte; an unsettled one frees the key
        # and lets the other twin run again (and converge to a better answer).
        first = next((e for e in report.exchanges if e.is_result and e.key == report.job.key), None)
        if first is not None and settled(first.body):
            firsts[report.job.key].add(first.raw)
    rec.check("duplicated deliveries with different answers", [k for k, v in firsts.items() if len(v) > 1])
    # A final problem that is not retryable is an answer; the callers' own limits
    # (attempts, the run's time) must never be what stopped them.
    rec.check(
        "callers that gave up (attempts or time limit)", [f"{r.job.key}: {r.gave_up}" for r in reports if r.gave_up]
    )
    rec.check("canary secrets in logs or answers", canary_hits(function_log, exchanges))
    log_lines = summary_lines(function_log)
    rec.check("answers without their log summary line", max(0, len(answered) - log_lines["POST"]))
    rec.check("unexpected errors logged", log_lines["unexpected"])


def canary_hits(function_log: Path, exchanges: list[Exchange]) -> list[str]:
    hits: list[str] = []
    text = function_log.read_bytes()
    for canary in CANARIES:
        if canary.encode() in text:
            hits.append(f"function log: {canary}")
    for exchange in exchanges:
        blob = exchange.raw + json.dumps(exchange.headers).encode()
        for canary in CANARIES:
            if canary.encode() in blob:
                hits.append(f"answer to {exchange.key}: {canary}")
    return hits


def summary_lines(function_log: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in function_log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if "httpRequest" in entry and str(entry.get("message", "")).startswith("POST / "):
            counts["POST"] += 1
        if entry.get("message") == "unexpected error":
            counts["unexpected"] += 1
    return counts
