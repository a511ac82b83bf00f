"""Longest answer time under a slow-drip upstream, per stage, against the real server.

    .venv/bin/python -m bench.drip [--repeat 3]

Starts the simulator, the fake Secret Manager and the function (functions-framework
under gunicorn, as deployed) on loopback with REQUEST_BUDGET_SECONDS=5,
CEC_TIMEOUT_SECONDS=3 and SECRET_TIMEOUT_SECONDS=3. For each stage (secret read,
token, query, delete) and each drip shape (the whole answer, or the body only, one
byte every 0.5 s, on every attempt), it sends ``--repeat`` requests and prints the longest answer time
against the budget. Bounded: every request has a 30 s client timeout and the
simulator stops a drip after 25 s; the run takes about a minute and a half.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer

BUDGET, CEC_TIMEOUT, SECRET_TIMEOUT = 5.0, 3.0, 3.0
API_KEY = "drip-bench-key-0123456789"
SECRET = "projects/bench/secrets/cec-credentials"
STAGES = ("secret", "token", "query", "delete")
HOLD_SECONDS = 2.1  # a failed secret read is held 2 s (function/secret_manager.py)


def _body(stage: str) -> dict[str, Any]:
    return {"routes": [{"accessCode": "9911411"}], "dryRun": True} if stage == "query" else {"dnids": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sim_server, sm_server = start_cec(), start_secret_manager()
    sim, secrets = SimulatorControl(sim_server.url), FakeSecretManagerControl(sm_server.url)
    secrets.add_version(SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    env = dict(os.environ)
    env.update(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_SECRET=SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
        SECRET_CACHE_TTL_SECONDS="0",
        REQUEST_BUDGET_SECONDS=str(BUDGET),
        CEC_TIMEOUT_SECONDS=str(CEC_TIMEOUT),
        SECRET_TIMEOUT_SECONDS=str(SECRET_TIMEOUT),
        LOG_LEVEL="ERROR",
    )
    rows: list[tuple[str, str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp, FunctionServer(env, Path(tmp) / "server.log") as server:
        for stage in STAGES:
            for body_only in (False, True):
                longest, statuses = 0.0, set[str]()
                for _ in range(args.repeat):
                    # Every attempt drips (the worst case); a reset drops the simulator's
                    # tokens, so the function must fetch one (the token stage is reached).
                    sim.reset()
                    rule = {"drip": 0.5, "dripBodyOnly": body_only, "dripMaxSeconds": 25, "times": 100}
                    if stage == "secret":
                        secrets.inject(rule)
                    else:
                        sim.inject({"stage": stage, **rule})
                    started = time.monotonic()
                    response = requests.post(server.url, json=_body(stage), headers={"X-API-Key": API_KEY}, timeout=30)
                    longest = max(longest, time.monotonic() - started)
                    answer = response.json()
                    statuses.add(f"{response.status_code} {answer.get('code', answer.get('status'))}")
                    sim.clear_faults()
                    secrets.clear_faults()
                    time.sleep(HOLD_SECONDS)
                shape = "body only" if body_only else "whole answer"
                rows.append((stage, shape, longest, ", ".join(sorted(statuses))))
    sim_server.stop()
    sm_server.stop()
    print(f"| stage | drip | longest answer of {args.repeat} (s) | budget (s) | answers |")
    print("|---|---|---|---|---|")
    for stage, shape, longest, answers in rows:
        print(f"| {stage} | {shape} | {longest:.2f} | {BUDGET:g} | {answers} |")


if __name__ == "__main__":
    main()
