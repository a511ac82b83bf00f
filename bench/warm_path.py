"""Separate: the warm path in a few minutes, function against floor (bench/FINDINGS.md).

The simulator at --latency-ms (20), the function as bench/lineup.py deploys it and
floor, each under functions-framework's gunicorn; c=8 and c=1 points of --seconds
each, the contenders in turns, the fastest of --rounds kept. ``--source name=path``
adds another checkout's main.py as a contender (repeatable), to compare a change.

    bench/.venv/bin/python -m bench.warm_path [--rounds 3] [--seconds 5] [--source base=/tmp/base/main.py]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from bench import config, load, procs, startup
from bench.lineup import lineup
from bench.results import LoadPoint
from cec_sim import SimulatorControl


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.warm_path", description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--concurrency", default="8,1")
    p.add_argument("--source", action="append", default=[], help="name=path/to/main.py (repeatable)")
    a = p.parse_args(argv)
    rounds, seconds = min(max(a.rounds, 1), 5), min(max(round(a.seconds), 1), 30)
    levels = [min(max(int(c), 1), 64) for c in a.concurrency.split(",")]
    options = config.Options(duration=float(seconds), warmup=1.0, latency_ms=a.latency_ms)
    sim = procs.start_simulator(options)
    servers: dict[str, procs.Running] = {}
    try:
        contenders = lineup(sim, procs.fetch_token(sim))
        chosen = {"function": contenders["function"]}
        for spec in a.source:
            name, _, path = spec.partition("=")
            chosen[name] = dataclasses.replace(contenders["function"], name=name, source=Path(path).resolve())
        chosen["floor"] = contenders["floor"]
        for name, contender in chosen.items():
            servers[name] = procs.start(contender)
        for name, server in servers.items():
            procs.wait_listening(server)
            startup.first_request(chosen[name], server.url, load.CALLER_HEADERS).raise_for_status()
        control = SimulatorControl(sim.cec_url)
        names = list(servers)
        best: dict[tuple[str, int], LoadPoint] = {}
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        for r in range(rounds):
            for c in levels:
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    point = load.measure(
                        name, servers[name].url, headers=load.CALLER_HEADERS, server=servers[name], sim=sim,
                        concurrency=c, options=options,
                    )  # fmt: skip
                    control.clear_calls()
                    print(
                        f"round {r + 1} c={c} {name:12s} {point.rps:7.1f} req/s"
                        f"  cpu {point.cpu_ms_per_request:.2f} ms/req  p50 {point.p50_ms:.2f} ms"
                        f"  errors {point.errors}  busy {point.machine_busy_pct:.0f}%",
                        flush=True,
                    )
                    if (name, c) not in best or point.rps > best[(name, c)].rps:
                        best[(name, c)] = point
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"\nfastest of {rounds} rounds:")
        for c in levels:
            floor = best[("floor", c)]
            for name in names:
                pt = best[(name, c)]
                print(
                    f"c={c} {name:12s} {pt.rps:7.1f} req/s ({pt.rps / floor.rps:.2f} x floor)"
                    f"  cpu {pt.cpu_ms_per_request:.2f} ms/req"
                    f"  p50 {pt.p50_ms:.2f} ms ({pt.p50_ms - floor.p50_ms:+.2f})"
                )
    finally:
        for server in servers.values():
            server.stop()
        sim.running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
