"""How many upstream calls a dry run and a selector delete cost, for 10, 1000 and 10000 routes.

    .venv/bin/python -m bench.lookup_calls          # prints a table, writes docs/LOOKUP_CALLS.md

Counts, not timings: it runs the function in-process (functions-framework's app)
against the simulator and the fake Secret Manager on loopback, each case on a cold
instance, and reads the calls the simulator recorded. Wall times are shown for scale.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import functions_framework

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager  # noqa: E402
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET  # noqa: E402
from function import runtime  # noqa: E402

SIZES = (10, 1000, 10000)
HOTLINE = "7770001"
SECRET = "projects/bench/secrets/cec"
KEY = "bench-key"


def main() -> int:
    cec, secrets = start_cec(), start_secret_manager()
    sim, fake = SimulatorControl(cec.url), FakeSecretManagerControl(secrets.url)
    fake.add_version(SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    os.environ.update(
        CALLER_AUTH="api_key",
        API_KEYS=KEY,
        CEC_BASE_URL=cec.url,
        CEC_CREDENTIALS_SECRET=SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.url,
        REQUEST_BUDGET_SECONDS="120",
        LOG_LEVEL="WARNING",
    )
    app = functions_framework.create_app(target="delete_called_route", source=str(ROOT / "main.py"))
    client = app.test_client()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("dry run, routes selector", {"routes": [{"accessCode": HOTLINE}], "dryRun": True}),
        ("delete, routes selector", {"routes": [{"accessCode": HOTLINE}]}),
        ("delete, dnids (no lookup)", {}),
        ("redelivery, dnids (all already absent)", {}),
    ]
    rows = []
    for size in SIZES:
        sim.reset()
        sim.add_routes(size, start=100000, access_code=HOTLINE)
        dnids = list(range(100000, 100000 + size))
        for name, body in cases:
            if name.startswith("delete, dnids"):
                sim.reset()
                sim.add_routes(size, start=100000, access_code=HOTLINE)
            request = body or {"dnids": dnids}
            runtime.clear_cache()  # a cold instance for every case: secret and token included
            fake_before = len(fake.calls())
            sim.clear_calls()
            started = time.perf_counter()
            response = client.post("/", json=request, headers={"X-API-Key": KEY})
            elapsed = time.perf_counter() - started
            calls = sim.calls()
            counts = {stage: sum(c["stage"] == stage for c in calls) for stage in ("token", "query", "delete")}
            counts["secret"] = len(fake.calls()) - fake_before
            rows.append((size, name, response.status_code, counts, elapsed))
    cec.stop()
    secrets.stop()
    print(_table(rows))
    (ROOT / "docs" / "LOOKUP_CALLS.md").write_text(_document(rows))
    return 0


def _table(rows: list[tuple[int, str, int, dict[str, int], float]]) -> str:
    lines = [
        "| routes | request | HTTP | secret | token | query | delete | total upstream | wall time |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, name, status, counts, elapsed in rows:
        total = sum(counts.values())
        lines.append(
            f"| {size} | {name} | {status} | {counts['secret']} | {counts['token']} | {counts['query']}"
            f" | {counts['delete']} | {total} | {elapsed * 1000:.0f} ms |"
        )
    return "\n".join(lines)


def _document(rows: list[tuple[int, str, int, dict[str, int], float]]) -> str:
    return f"""# Upstream calls per request: lookups, dry runs and selector deletes

Made by `.venv/bin/python -m bench.lookup_calls` (counts, not a timed test). Each row is
one request on a cold instance (so one Secret Manager read and one token call are
included) against the simulator, with N routes on one hotline ({HOTLINE}) beside the
simulator's 160 seeded routes. queryCalledRoute returns at most 100 records per call; deleteCalledRoute takes at
most 1000 dnids per call. Lookup pages after the first are fetched CEC_LOOKUP_CONCURRENCY
(4) at a time. Wall times are in-process on loopback with no added latency, for scale only.

{_table(rows)}

Reading it: a dry run costs about N/90 lookups (each page re-reads the last 10 records
of the one before, see docs/RELIABILITY.md); a selector delete costs the same
lookups plus ceil(N/1000) deletes; a plain dnids delete costs no lookup; a redelivery of
a dnids delete whose routes are all gone costs its deletes (answered "data not exist")
plus the lookups that prove the routes absent, which read the tenant's remaining
records (here 160, so 2 calls; bounded by CEC_MAX_LOOKUP_RECORDS).
"""


if __name__ == "__main__":
    raise SystemExit(main())
