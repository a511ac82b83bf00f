"""Figures for docs/BENCHMARKS.md: what the Firestore idempotency store adds per request
and to a cold start, against the memory store.

    .venv/bin/python scripts/bench_idempotency.py [--requests 200]

Bounded: starts the simulator, the fake Secret Manager and a Firestore emulator on
127.0.0.1, then one real function server (gunicorn) per store; sends N keyed requests
one after another to each (new keys: each is a claim and a finish) and N replays;
prints medians and p95s, and the import time of the Firestore client. Stops all it
started, by PID or process group. Needs gcloud with the Firestore emulator, and Java.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager  # noqa: E402
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET  # noqa: E402
from cec_sim.function_server import FunctionServer  # noqa: E402
from tests.idempotency.emulator import FirestoreEmulator  # noqa: E402

API_KEY = "bench-key-0123456789"
SECRET = "projects/bench/secrets/cec-credentials"


def quantiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms"


def timed_posts(url: str, count: int, *, replay: bool) -> list[float]:
    session = requests.Session()
    samples = []
    for n in range(count):
        key = "replay" if replay else f"k-{uuid.uuid4().hex}"
        started = time.perf_counter()
        answer = session.post(
            url, json={"dnids": "1"}, headers={"X-API-Key": API_KEY, "Idempotency-Key": key}, timeout=30
        )
        samples.append(time.perf_counter() - started)
        if answer.status_code >= 500:
            raise SystemExit(f"request {n}: {answer.status_code} {answer.text[:200]}")
    return samples


def warm_emulator(env: dict[str, str]) -> None:
    """The emulator's own first calls take seconds (JIT); not the function's cost."""
    code = (
        "from google.cloud import firestore\n"
        "c = firestore.Client(project='bench')\n"
        "for i in range(50): c.collection('warm').document(str(i)).set({'a': i})\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


def import_seconds(before: str) -> float:
    """Median over 5 fresh processes of importing the Firestore client after ``before``."""
    code = (
        f"import time\n{before}\nt = time.perf_counter()\n"
        "from google.cloud import firestore\nprint(time.perf_counter() - t)"
    )
    runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True, cwd=ROOT)) for _ in range(5)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per store and kind (max 2000)")
    args = parser.parse_args()
    count = max(10, min(args.requests, 2000))
    sim_server, sm_server = start_cec(), start_secret_manager()
    work = Path(tempfile.mkdtemp(prefix="bench-idem-"))
    emulator = FirestoreEmulator(work / "emulator.log")
    try:
        emulator.start()
        SimulatorControl(sim_server.url).reset()
        secrets = FakeSecretManagerControl(sm_server.url)
        secrets.add_version(SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
        base = {k: v for k, v in os.environ.items() if not k.startswith(("IDEMPOTENCY_", "CEC_", "API_KEYS"))}
        base.update(
            CALLER_AUTH="api_key",
            API_KEYS=API_KEY,
            CEC_BASE_URL=sim_server.url,
            CEC_CREDENTIALS_SECRET=SECRET + "/versions/latest",
            SECRET_MANAGER_ENDPOINT=sm_server.url,
            GOOGLE_CLOUD_PROJECT="bench",
            FIRESTORE_EMULATOR_HOST=emulator.host,
            IDEMPOTENCY_STORE_TIMEOUT_SECONDS="10",
        )
        warm_emulator(base)
        print(f"requests per figure: {count}; one after another, one client, loopback")
        for store in ("memory", "firestore"):
            env = {**base, "IDEMPOTENCY_STORE": store}
            with FunctionServer(env, work / f"{store}.log") as server:
                first = time.perf_counter()
                timed_posts(server.url, 1, replay=False)
                cold = time.perf_counter() - first
                timed_posts(server.url, 20, replay=False)  # warm-up
                fresh = timed_posts(server.url, count, replay=False)
                timed_posts(server.url, 1, replay=True)
                replays = timed_posts(server.url, count, replay=True)
            print(f"{store:9} first request {cold * 1000:6.1f} ms")
            print(f"{store:9} new key (claim+run+finish): {quantiles(fresh)}")
            print(f"{store:9} replay (one read):          {quantiles(replays)}")
        alone = import_seconds("pass")
        # The function has already imported Secret Manager's client (and gRPC) by then.
        after = import_seconds("import main\nfrom google.cloud import secretmanager\nimport google.api_core.exceptions")
        print(f"import google.cloud.firestore, median of 5 fresh processes: alone {alone * 1000:.0f} ms,")
        print(f"  after the function's Secret Manager client (its first request's cost): {after * 1000:.0f} ms")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    finally:
        emulator.stop()
        sim_server.stop()
        sm_server.stop()


if __name__ == "__main__":
    main()
