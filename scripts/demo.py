"""The demo: simulator + fake Secret Manager + the real function server, and real deletions.

Run by scripts/demo.sh. Starts everything on free loopback ports, sends a few
requests the way a workflow tool would, prints each request and answer, and stops
everything again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cec_sim import SimulatorControl  # noqa: E402 - after the path is set
from cec_sim.function_server import FunctionServer, free_port, stop_process  # noqa: E402

DEMO_KEY = "demo-caller-key"
# Signs the dry runs' plan tokens; a deployment keeps its keys in Secret Manager.
DEMO_PLAN_KEY = "demo-plan-signing-key-not-for-production"
CREDENTIALS = "projects/demo/secrets/cec-credentials/versions/latest"


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start within 30 s")


def print_body(body: dict[str, Any]) -> None:
    """Valid JSON, one line per field and one per entry of a list of objects."""
    fields = []
    for name, value in body.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            entries = ",\n".join(f"    {json.dumps(entry)}" for entry in value)
            fields.append(f'  "{name}": [\n{entries}\n  ]')
        else:
            fields.append(f'  "{name}": {json.dumps(value)}')
    print("{\n" + ",\n".join(fields) + "\n}")


def show(title: str, url: str, body: Any, headers: dict[str, str]) -> requests.Response:
    print(f"\n=== {title}")
    shown = {k: ("<demo key>" if k == "X-API-Key" else v) for k, v in headers.items()}
    print(f"> POST {url}")
    for name, value in shown.items():
        print(f"> {name}: {value}")
    print(f"> {json.dumps(body)}")
    started = time.perf_counter()
    response = requests.post(url, json=body, headers=headers, timeout=30)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"< HTTP {response.status_code} {response.headers['Content-Type']}  ({elapsed:.0f} ms)")
    print_body(response.json())
    return response


def main() -> int:
    cec_port, secrets_port = free_port(), free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "cec_sim", "--cec-port", str(cec_port), "--secrets-port", str(secrets_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    env = dict(
        os.environ,
        CALLER_AUTH="api_key",
        API_KEYS=f"demo={DEMO_KEY}",
        PLAN_SIGNING_KEYS=DEMO_PLAN_KEY,
        CEC_BASE_URL=f"http://127.0.0.1:{cec_port}",
        CEC_CREDENTIALS_SECRET=CREDENTIALS,
        SECRET_MANAGER_ENDPOINT=f"http://127.0.0.1:{secrets_port}",
        GOOGLE_CLOUD_PROJECT="demo",
    )
    function = FunctionServer(env, ROOT / ".demo-function.log")
    try:
        control = SimulatorControl(f"http://127.0.0.1:{cec_port}")
        wait_for(control.base_url + "/_sim/routes", sim, "the CEC simulator")
        function.start()
        url = function.url + "/"
        return run_requests(control, url, secrets_port, function.log_path)
    finally:
        function.stop()
        stop_process(sim)


def run_requests(control: SimulatorControl, url: str, secrets_port: int, function_log: Path) -> int:
    print("CEC simulator:      ", control.base_url)
    print("Fake Secret Manager: ", f"http://127.0.0.1:{secrets_port}  (AK/SK in {CREDENTIALS})")
    print("Function (gunicorn): ", url, " CALLER_AUTH=api_key")
    print("\nSome of the simulator's called routes:")
    for route in control.routes()[:7]:
        print(
            f"  dnid {route['dnid']:>3}  id {route['id']}  {route['accessCode']}+{route['extCode'] or '(none)'}"
            f"  editable={route['editable']}"
        )

    key = {"X-API-Key": DEMO_KEY}
    first = show("Delete two routes (cold instance: secret, token, lookup, delete)", url, {"dnids": "1,2"}, key)
    show("The same request again: converges to already_absent", url, {"dnids": "1,2"}, key)
    hotline = {"routes": [{"accessCode": "4008001000"}]}
    preview = show("Preview every route of hotline 4008001000 (dry run)", url, {**hotline, "dryRun": True}, key)
    plan = preview.json()
    print(f"\n=== Approve: someone reviews plan {plan['planId']} (dnids {plan['dnids']}), e.g. in Slack or Teams")
    print(f"    the workflow keeps the token ({len(plan['planToken'])} characters) until then;")
    print(f"    it is refused after {plan['planExpiresAt']}")
    token = {"planToken": plan["planToken"]}
    applied = show("Apply the approved plan: exactly the routes it showed as deletable", url, token, key)
    show("Apply it again: nothing left to delete, already_absent", url, token, key)
    show("A record id pasted where a dnid belongs", url, {"dnids": "1127983948544239618"}, key)
    show("No API key", url, {"dnids": "3"}, {})

    calls = control.calls()
    stages = ("token", "query", "delete")
    print("\nUpstream calls the simulator received:", {s: sum(c["stage"] == s for c in calls) for s in stages})
    time.sleep(0.2)
    summaries = [line for line in function_log.read_text().splitlines() if '"message": "POST / ' in line]
    print("Function log, summary line of the first request:")
    print(" ", summaries[0] if summaries else "(none)")
    ok = first.status_code == 200 and first.json()["status"] == "deleted" and applied.status_code == 200
    print("\nDemo", "succeeded" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
