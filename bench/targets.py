"""The issue's targets, checked against one run's figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.results import Run

TARGET_CONCURRENCY = 8
LATENCY_CONCURRENCY = 1
MAX_ADDED_P50_MS = 2.0
MAX_UPSTREAM_PER_SERVED = 1.01
COLD_FACTOR = 1.3
MAX_PSS_MIB = 120.0
MAX_BULK_CALLS = 10


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool


def cold_allowance_s(run: Run) -> float:
    """1.3 x hello-world, plus the first request's unavoidable round trips: the secret
    read, tokenByAkSk, and the delete itself (hello-world's first answer has none)."""
    latency_s = float(str(run.options["latency_ms"])) / 1000
    secrets_s = float(str(run.options["secrets_latency_ms"])) / 1000
    return COLD_FACTOR * run.cold["hello"].cold_s + secrets_s + 2 * latency_s


def check(run: Run) -> list[Verdict]:
    verdicts: list[Verdict] = []
    fn = run.point("function", TARGET_CONCURRENCY)
    floor = run.point("floor", TARGET_CONCURRENCY)
    naive = run.point("naive", TARGET_CONCURRENCY)
    if fn and floor and naive:
        ratio = fn.rps / floor.rps
        verdicts.append(
            Verdict(f"throughput >= 0.9 x floor at c={TARGET_CONCURRENCY}", f"{ratio:.2f} x floor", ratio >= 0.9)
        )
        ratio = fn.rps / naive.rps
        verdicts.append(
            Verdict(f"throughput >= 3 x naive at c={TARGET_CONCURRENCY}", f"{ratio:.2f} x naive", ratio >= 3)
        )
    fn1, floor1 = run.point("function", LATENCY_CONCURRENCY), run.point("floor", LATENCY_CONCURRENCY)
    if fn1 and floor1:
        added = fn1.p50_ms - floor1.p50_ms
        verdicts.append(
            Verdict(
                f"added p50 over floor <= {MAX_ADDED_P50_MS:g} ms (c={LATENCY_CONCURRENCY})",
                f"{added:+.2f} ms",
                added <= MAX_ADDED_P50_MS,
            )
        )
    up = run.upstream.get("function")
    if up:
        verdicts.append(
            Verdict(
                f"upstream requests per served request <= {MAX_UPSTREAM_PER_SERVED} after warm-up",
                f"{up.per_served:.3f} ({up.token} token + {up.secret} secret + {up.delete} delete / {up.served})",
                up.per_served <= MAX_UPSTREAM_PER_SERVED and up.failed_answers == 0,
            )
        )
    if "function" in run.cold and "hello" in run.cold:
        allowance = cold_allowance_s(run)
        cold = run.cold["function"].cold_s
        verdicts.append(
            Verdict(
                "cold start <= 1.3 x hello-world + secret, token and delete round trips",
                f"{cold:.3f} s vs {allowance:.3f} s allowed (floor: {run.cold['floor'].cold_s:.3f} s)"
                if "floor" in run.cold
                else f"{cold:.3f} s vs {allowance:.3f} s allowed",
                cold <= allowance,
            )
        )
    mem = run.memory.get("function")
    if mem:
        verdicts.append(
            Verdict(
                f"peak memory under load <= {MAX_PSS_MIB:g} MiB (PSS, whole process tree)",
                f"{mem.peak_pss_mib:.1f} MiB",
                mem.peak_pss_mib <= MAX_PSS_MIB,
            )
        )
    bulk = run.bulk.get("function")
    if bulk:
        count = int(str(run.options["bulk_count"]))
        verdicts.append(
            Verdict(
                f"{count:,} dnids in <= {MAX_BULK_CALLS} delete calls, all deleted",
                f"{bulk.delete_calls} calls, {bulk.deleted:,} deleted, {bulk.seconds:.2f} s",
                bulk.delete_calls <= MAX_BULK_CALLS and bulk.deleted == count,
            )
        )
    return verdicts


def all_met(verdicts: list[Verdict]) -> bool:
    return bool(verdicts) and all(v.met for v in verdicts)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return "n/a"
    return f"{a / b:.2f}x"
