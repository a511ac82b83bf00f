"""Load with faults: the real function server under concurrent workflow-tool callers.

    .venv/bin/python -m tests.load.run_load [--requests 5000] [--concurrency 32] [--timeout 900]

Everything runs on 127.0.0.1: the CEC simulator and the fake Secret Manager
(``python -m cec_sim``), and the function exactly as Cloud Functions starts it
(functions-framework, gunicorn, no debug). The simulator is seeded with routes, about
``--fault-rate`` of the upstream calls (token, delete, query, secret reads) fail at
random in every way the fault matrix knows, including failures *after* the delete
happened, and ``--concurrency`` callers send ``--requests`` requests whose dnids
overlap and repeat.

Afterwards the answers are reconciled against the simulator's own record (which
routes it deleted, which still exist) and printed as a table. The exit code is 0 only
when the reconciliation is exact: every route the simulator deleted was reported
``deleted`` or ``already_absent`` to some caller, no route reported gone still exists,
nothing was deleted that no request asked for, every answer had a JSON body, no 500,
and no canary secret appears in the function's logs or in any answer.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cec_sim.client import FakeSecretManagerControl, SimulatorControl
from tests.load.callers import CLIENT_TIMEOUT_SECONDS, CallerReport, Callers
from tests.load.config import BATCH_SIZE, CEC_TIMEOUT_SECONDS
from tests.load.faults import fault_kinds, fault_rules
from tests.load.mix import plan_jobs
from tests.load.reconcile import Reconciliation, SimRecord, check_answers, check_routes
from tests.load.report import answer_tables, render, save_exchanges, upstream_table
from tests.load.routes import HOTLINE_EXTENSIONS, Route, seed, snapshot
from tests.load.servers import Child, function_environment, hard_limit, start_function, start_simulator


@dataclass
class Options:
    requests: int = 5000
    concurrency: int = 32
    timeout: float = 900.0
    fault_rate: float = 0.05
    seed: int = 20261126
    keep_logs: bool = False


@dataclass
class Outcome:
    reconciliation: Reconciliation
    workdir: Path
    duration: float

    @property
    def exact(self) -> bool:
        return self.reconciliation.exact


def run(options: Options) -> Outcome:
    workdir = Path(tempfile.mkdtemp(prefix="cec-load-"))
    children: list[Child] = []
    # The callers stop starting attempts at the soft deadline; the hard limit leaves
    # time for the attempts in flight and the reconciliation.
    started = time.monotonic()
    soft_deadline = started + options.timeout - CLIENT_TIMEOUT_SECONDS - 30
    with hard_limit(options.timeout, children):
        try:
            cec_url, secrets_url = start_simulator(workdir, children)
            sim, secrets = SimulatorControl(cec_url), FakeSecretManagerControl(secrets_url)
            pool, hotlines = seed(sim, secrets, options.requests)
            before = snapshot(sim)
            jobs = plan_jobs(options.requests, before, hotlines, random.Random(options.seed))
            url = start_function(workdir, children, function_environment(cec_url, secrets_url))
            cec_rules, secret_rules = fault_rules(options.fault_rate)
            sim.inject(*cec_rules)
            secrets.inject(*secret_rules)

            callers = Callers(url, soft_deadline, options.seed)
            load_started = time.monotonic()
            with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="caller") as pool_:
                reports = list(pool_.map(callers.run, jobs))
            duration = time.monotonic() - load_started

            sim.clear_faults()
            save_exchanges(workdir / "exchanges.jsonl", reports)
            time.sleep(0.5)  # the last summary lines reach the log file
            rec = reconcile(reports, before, SimRecord.fetch(sim, secrets), workdir / "function.log")
            sent = sum(len(r.exchanges) for r in reports)
            protected = sum(r.protected for r in before.values())
            hotline_routes = hotlines * HOTLINE_EXTENSIONS
            setup = [
                ("requests / concurrency", f"{options.requests} / {options.concurrency}"),
                ("duration of the load", f"{duration:.1f} s ({sent / duration:.0f} HTTP requests/s)"),
                (
                    "routes",
                    f"{len(before)} ({len(before) - pool - hotline_routes} seed, {pool} pool,"
                    f" {hotline_routes} on {hotlines} hotlines; {protected} protected)",
                ),
                ("fault rate per upstream call", f"{options.fault_rate:.1%}"),
                ("fault kinds: CEC / after action / secret", fault_kinds()),
                ("CEC_TIMEOUT_SECONDS / CEC_BATCH_SIZE", f"{CEC_TIMEOUT_SECONDS:g} s / {BATCH_SIZE}"),
                ("logs", str(workdir)),
            ]
            rec.tables.insert(0, ("setup", setup))
            return Outcome(rec, workdir, duration)
        finally:
            for child in reversed(children):
                child.stop()


def reconcile(
    reports: list[CallerReport], before: dict[int, Route], record: SimRecord, function_log: Path
) -> Reconciliation:
    """The checks first, then the tables of what they counted (the setup table is added by run)."""
    rec = Reconciliation()
    outcomes = check_routes(rec, reports, before, record)
    check_answers(rec, reports, function_log)
    rec.tables += answer_tables(reports, outcomes)
    rec.tables.append(("upstream calls (simulator's record)", upstream_table(record)))
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.run_load", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="logical requests (default 5000)")
    parser.add_argument("--concurrency", type=int, default=32, help="simultaneous callers (default 32)")
    parser.add_argument("--timeout", type=float, default=900.0, help="hard limit for the whole run, seconds")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of upstream calls that fail")
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the request mix")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or not 0 <= args.fault_rate < 1:
        parser.error("--requests and --concurrency must be positive, --fault-rate in [0, 1)")
    outcome = run(Options(args.requests, args.concurrency, args.timeout, args.fault_rate, args.seed))
    print(render(outcome.reconciliation), flush=True)
    return 0 if outcome.exact else 1


if __name__ == "__main__":
    sys.exit(main())
