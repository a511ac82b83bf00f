"""A second latency profile (issue 14): 150 ms per CEC call, 30 ms per secret read.

At the simulator's usual 20 ms the function's own costs dominate; a real tenant across
regions answers in 100-250 ms, where what counts is how many calls run one after the
other. Measured here, against the same simulator with its latency raised: cold starts
(file and Secret Manager sources), resolving 10,000 ids one page at a time and
CEC_LOOKUP_CONCURRENCY pages at a time, and throughput at c=32 with gunicorn's
THREADS matching the concurrency (and left at its default, to show why it must).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests

from bench import config, load, procs, startup
from bench.procs import Contender
from bench.results import LoadPoint, Lookup, Profile
from cec_sim import FakeSecretManagerControl, SimulatorControl

LOOKUP_IDS = 10_000
LOOKUP_CONCURRENCIES = (1, 4)
THROUGHPUT_CONCURRENCY = 32
# The AK/SK's read through the library: the API keys, read first, come from a file.
_SECRET_READ = re.compile(r'"message": "secret read".*?"setting": "CEC_CREDENTIALS_SECRET".*?"durationMs": ([0-9.]+)')


def lookup_body(count: int) -> bytes:
    ids = [str(1140000000000000000 + d) for d in range(config.BULK_START, config.BULK_START + count)]
    return json.dumps({"ids": ids, "dryRun": True}).encode()


def with_env(contender: Contender, name: str, **env: str) -> Contender:
    return Contender(name, contender.source, contender.target, {**contender.env, **env}, contender.first_method)


def secret_read_ms(contender: Contender, headers: dict[str, str]) -> float | None:
    """The first secret read of a cold instance, as its own log line times it (the
    client library's import and construction included)."""
    running = procs.start(contender)
    try:
        procs.wait_listening(running)
        startup.first_request(contender, running.url, headers).raise_for_status()
    finally:
        running.stop()
    match = _SECRET_READ.search(Path(running.log).read_text(errors="replace"))
    return float(match.group(1)) if match else None


def lookups(function: Contender, control: SimulatorControl, tenant_routes: int, count: int) -> list[Lookup]:
    """Every one of ``count`` bulk routes by id (the harness adds 10,000), so the scan reads them all."""
    body = lookup_body(count)
    results = []
    for concurrency in LOOKUP_CONCURRENCIES:
        contender = with_env(function, f"function lookup c={concurrency}", CEC_LOOKUP_CONCURRENCY=str(concurrency))
        running = procs.start(contender)
        try:
            procs.wait_listening(running)
            startup.first_request(contender, running.url, load.CALLER_HEADERS).raise_for_status()  # token cached
            control.clear_calls()
            started = time.perf_counter()
            response = requests.post(running.url, data=body, headers=load.CALLER_HEADERS, timeout=120)
            seconds = time.perf_counter() - started
            answer = response.json() if response.headers.get("Content-Type", "").endswith("json") else {}
            results.append(
                Lookup(
                    concurrency=concurrency,
                    ids=count,
                    tenant_routes=tenant_routes,
                    seconds=seconds,
                    query_calls=len(control.calls("query")),
                    planned=len(answer.get("plan", [])) if isinstance(answer, dict) else 0,
                    http_status=response.status_code,
                )
            )
            print(f"realistic: lookup c={concurrency}: {seconds:.2f} s, {results[-1].query_calls} calls", flush=True)
        finally:
            running.stop()
            control.clear_calls()
    return results


def throughput(contenders: dict[str, Contender], sim: procs.Simulator, options: config.Options) -> list[LoadPoint]:
    c = THROUGHPUT_CONCURRENCY
    threads = str(c)
    lineup = [
        with_env(contenders["function"], f"function THREADS={c}", THREADS=threads),
        with_env(contenders["function"], "function THREADS default"),  # functions-framework: 4 per CPU
        with_env(contenders["floor"], f"floor THREADS={c}", THREADS=threads),
    ]
    points = []
    control = SimulatorControl(sim.cec_url)
    for contender in lineup:
        running = procs.start(contender)
        try:
            procs.wait_listening(running)
            startup.first_request(contender, running.url, load.CALLER_HEADERS).raise_for_status()
            print(f"realistic: load {contender.name} c={c}", flush=True)
            point = load.measure(
                contender.name, running.url, headers=load.CALLER_HEADERS, server=running, sim=sim,
                concurrency=c, options=options,
            )  # fmt: skip
            points.append(point)
        finally:
            running.stop()
            control.clear_calls()
    return points


def measure(
    contenders: dict[str, Contender], sim: procs.Simulator, options: config.Options, tenant_routes: int
) -> Profile:
    control, fake = SimulatorControl(sim.cec_url), FakeSecretManagerControl(sim.secrets_url)
    profile = Profile(latency_ms=options.realistic_latency_ms, secrets_latency_ms=options.secrets_latency_ms)
    control.configure(latency=options.realistic_latency_ms / 1000)
    fake.configure(latency=options.secrets_latency_ms / 1000)
    try:
        print(f"realistic profile: {options.realistic_latency_ms:g} ms per CEC call", flush=True)
        anchored = [contenders[n] for n in ("hello", "function", "function-sm", "floor")]
        profile.cold = startup.cold_starts(anchored, load.CALLER_HEADERS, options.cold_repeats)
        profile.secret_read_ms = secret_read_ms(contenders["function-sm"], load.CALLER_HEADERS)
        profile.lookups = lookups(contenders["function"], control, tenant_routes, min(LOOKUP_IDS, options.bulk_count))
        profile.load = throughput(contenders, sim, options)
    finally:
        control.configure(latency=options.latency_ms / 1000)
    return profile
