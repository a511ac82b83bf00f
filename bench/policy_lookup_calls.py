"""Upstream calls of a plain dnids delete when a policy or protected hotlines make it
look its routes up first (figures in README, "Caller policies").

    .venv/bin/python -m bench.policy_lookup_calls

The simulator holds 10,000 routes; the function runs in-process (functions-framework's
app) and talks to the simulator over loopback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import functions_framework

from cec_sim import SimulatorControl, start_cec
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from function import runtime

ROOT = Path(__file__).resolve().parent.parent
SEEDED = 160
TENANT = 10000
POLICY = {"CALLER_POLICIES": json.dumps({"*": {"accessCodes": ["4008*", "5*"]}})}
CASES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("no policy: dnids 20..29", {}, {"dnids": list(range(20, 30))}),
    ("accessCodes policy: dnids 20..29", POLICY, {"dnids": list(range(20, 30))}),
    ("accessCodes policy: dnids 20..29 and one absent", POLICY, {"dnids": [*range(20, 30), 99999]}),
    ("accessCodes policy: dnids 1000..1999", POLICY, {"dnids": list(range(1000, 2000))}),
    ("PROTECTED_ACCESS_CODES: dnids 20..29", {"PROTECTED_ACCESS_CODES": "9911411"}, {"dnids": list(range(20, 30))}),
]


def main() -> None:
    server = start_cec()
    sim = SimulatorControl(server.url)
    app = functions_framework.create_app(
        target="delete_called_route", source=str(ROOT / "main.py"), signature_type="http"
    ).test_client()
    print(f"{'case':<50} {'HTTP':>4} {'query':>6} {'delete':>7}")
    try:
        for label, env, body in CASES:
            sim.reset()
            sim.add_routes(TENANT - SEEDED, 1000)
            for name in ("CALLER_POLICIES", "PROTECTED_ACCESS_CODES"):
                os.environ.pop(name, None)
            os.environ.update(
                CALLER_AUTH="none",
                CEC_BASE_URL=server.url,
                CEC_APP_KEY=DEFAULT_APP_KEY,
                CEC_APP_SECRET=DEFAULT_APP_SECRET,
                **env,
            )
            runtime.clear_cache()
            sim.clear_calls()
            response = app.post("/", data=json.dumps(body), content_type="application/json")
            stages = [c["stage"] for c in sim.calls()]
            print(f"{label:<50} {response.status_code:>4} {stages.count('query'):>6} {stages.count('delete'):>7}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
