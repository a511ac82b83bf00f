"""What the run leaves behind: the tables and the rendered report, and every exchange
saved for looking into a mismatch."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.load.callers import CallerReport
from tests.load.reconcile import Reconciliation, SimRecord


def answer_tables(
    reports: list[CallerReport], outcomes: dict[int, Counter[str]]
) -> list[tuple[str, list[tuple[str, str]]]]:
    exchanges = [e for r in reports for e in r.exchanges]
    purposes = Counter(e.purpose for e in exchanges)
    all_outcomes: Counter[str] = Counter()
    for counter in outcomes.values():
        all_outcomes.update(counter)

    def rows(counter: Counter[str]) -> list[tuple[str, str]]:
        return sorted((name, str(count)) for name, count in counter.items())

    return [
        (
            "requests",
            [
                ("logical requests", str(len(reports))),
                ("HTTP requests sent", str(len(exchanges))),
                ("  first attempts", str(purposes["first"])),
                ("  retries (same key)", str(purposes["retry"])),
                ("  reruns (new key, after unknown/not_sent/failed)", str(purposes["rerun"])),
                ("  replay checks", str(purposes["replay-check"])),
                ("latency p50 / p99 / max", latency_summary(sorted(e.seconds for e in exchanges if e.status))),
            ],
        ),
        ("requests by selector", rows(Counter(r.job.kind for r in reports))),
        ("HTTP status (all attempts)", rows(Counter(str(e.status or "no answer") for e in exchanges))),
        ("code / result status (all attempts)", rows(Counter(e.code for e in exchanges))),
        (
            "final answer per logical request",
            rows(Counter(f"{r.final.status} {r.final.code}" if r.final else f"gave up: {r.gave_up}" for r in reports)),
        ),
        ("per-route outcomes reported (all answers)", rows(all_outcomes)),
    ]


def upstream_table(record: SimRecord) -> list[tuple[str, str]]:
    calls = Counter(c["stage"] for c in record.calls)
    faults = Counter(c["stage"] for c in record.calls if c["fault"])
    rows = [
        (stage, f"{calls[stage]} calls, {faults[stage]} faulted ({pct(faults[stage], calls[stage])})")
        for stage in sorted(calls)
    ]
    total, faulted = sum(calls.values()), sum(faults.values())
    rows.append(("all CEC stages", f"{total} calls, {faulted} faulted ({pct(faulted, total)})"))
    rows.append(("secret reads", f"{record.secret_reads} calls"))
    return rows


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def latency_summary(latencies: list[float]) -> str:
    if not latencies:
        return "-"

    def at(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return f"{at(0.5) * 1000:.0f} / {at(0.99) * 1000:.0f} / {latencies[-1] * 1000:.0f} ms"


def render(rec: Reconciliation) -> str:
    lines: list[str] = []
    for title, rows in rec.tables:
        lines += ["", title, "-" * len(title)]
        width = max(len(name) for name, _ in rows)
        lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    title = "reconciliation against the simulator's record"
    lines += ["", title, "-" * len(title)]
    width = max(len(what) for what, _, _ in rec.rows)
    for what, value, ok in rec.rows:
        mark = "" if ok is None else ("ok" if ok else "MISMATCH")
        lines.append(f"  {what:<{width}}  {value:>7}  {mark}")
    lines.append("")
    lines.append("RECONCILIATION EXACT" if rec.exact else "RECONCILIATION NOT EXACT:")
    lines += [f"  - {problem}" for problem in rec.problems]
    return "\n".join(lines)


def save_exchanges(path: Path, reports: list[CallerReport]) -> None:
    """Every request and answer, one JSON line each, for looking into a mismatch."""
    with path.open("w") as out:
        for report in reports:
            for e in report.exchanges:
                line = {
                    "job": e.job,
                    "key": e.key,
                    "purpose": e.purpose,
                    "request": report.job.body,
                    "status": e.status,
                    "error": e.error,
                    "seconds": round(e.seconds, 3),
                    "body": e.body if e.body is not None else e.raw.decode("utf-8", "replace"),
                }
                out.write(json.dumps(line) + "\n")
