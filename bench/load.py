"""Throughput and latency under closed-loop load (wrk), with CPU accounting per point."""

from __future__ import annotations

import psutil

from bench import config, wrk
from bench.procs import Running, Simulator
from bench.results import LoadPoint

CALLER_HEADERS = {"Content-Type": "application/json", "X-API-Key": config.API_KEY}
# The simulator itself, hit directly with a valid token: the ceiling every
# contender shares, to show whether the simulator is the bottleneck.
UPSTREAM = "cec-sim direct"


def upstream_headers(token: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "X-APP-Key": config.APP_KEY}


def measure(
    name: str,
    url: str,
    *,
    headers: dict[str, str],
    server: Running | None,
    sim: Simulator,
    concurrency: int,
    options: config.Options,
) -> LoadPoint:
    # Warm-up at the same concurrency: caches, pooled connections, gunicorn threads.
    wrk.run(url, concurrency=concurrency, seconds=options.warmup, body=config.LOAD_BODY, headers=headers)
    cpu_before = server.cpu_seconds() if server else 0.0
    sim_before = sim.running.cpu_seconds()
    machine_before = _cpu_totals()
    result = wrk.run(url, concurrency=concurrency, seconds=options.duration, body=config.LOAD_BODY, headers=headers)
    machine_after = _cpu_totals()
    served = max(result.requests, 1)
    cpu = (server.cpu_seconds() - cpu_before) * 1000 / served if server else None
    return LoadPoint(
        contender=name,
        concurrency=concurrency,
        requests=result.requests,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p90_ms=result.p90_ms,
        p99_ms=result.p99_ms,
        errors=result.errors,
        cpu_ms_per_request=cpu,
        sim_cpu_ms_per_request=(sim.running.cpu_seconds() - sim_before) * 1000 / served,
        machine_busy_pct=_busy_pct(machine_before, machine_after),
    )


def _cpu_totals() -> tuple[float, float]:
    """(all CPU seconds, idle CPU seconds) of the machine so far."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    # guest time is already inside user time on Linux, so it is not added again.
    total = t.user + t.nice + t.system + idle + sum(getattr(t, f, 0.0) for f in ("irq", "softirq", "steal"))
    return total, idle


def _busy_pct(before: tuple[float, float], after: tuple[float, float]) -> float:
    total, idle = after[0] - before[0], after[1] - before[1]
    return 100.0 * (1 - idle / total) if total > 0 else 0.0
