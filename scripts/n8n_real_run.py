"""Import and execute docs/n8n/*.json in real n8n against the demo stack (not run in CI).

    ../shared/tools/n8n/install.sh /work/n8n-install      # once: n8n 2.41.1 and node 24, about 3 GB
    .venv/bin/python scripts/n8n_real_run.py --n8n /work/n8n-install

Starts what scripts/demo.sh starts (the CEC simulator, the fake Secret Manager and the
function's real server, all on loopback) plus a small recording proxy in front of the
function, then, in a fresh n8n user folder: imports the credential by the name the
templates use (it must exist before the workflows are imported), imports one copy of a
template per scenario with `n8n import:workflow`, runs each with `n8n execute`, and
prints which nodes ran, how the run ended, the requests the proxy saw (path, the
Idempotency-Key, the answer) and the dnids the simulator deleted.

What a scenario changes in its copy is what the docs tell a user to edit (the URL, What
to delete / What to preview, the Slack node), plus the faults: the proxy answers 429
text/plain like Cloud Run's front end, a closed port refuses the connection, and a
request that the proxy holds past a 2 s timeout times out. The approval scenario puts a
Set node that approves in place of the Slack node (n8n execute cannot wait for Slack).
"""

from __future__ import annotations

import argparse
import copy
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cec_sim import SimulatorControl  # noqa: E402 - after the path is set
from cec_sim.function_server import FunctionServer, free_port, stop_process  # noqa: E402

KEY = "n8n-run-caller-key-0123456789"
CREDENTIAL_NAME = "CEC function API key (X-API-Key)"
PROTECTED = "4008000001"  # dnids 10..19 of the simulator's routes
CALL_TIMEOUT = 600  # one n8n command; the slowest scenario waits 35 s between tries


class Proxy(http.server.ThreadingHTTPServer):
    """Forwards /fn/... to the function; /rate-limited answers 429 text/plain; /hang
    answers after 10 s. Records every request it sees."""

    def __init__(self, function_url: str) -> None:
        super().__init__(("127.0.0.1", free_port()), _ProxyHandler)
        self.function_url = function_url
        self.seen: list[dict[str, Any]] = []
        self.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record: dict[str, Any] = {"path": self.path, "idempotencyKey": self.headers.get("Idempotency-Key")}
        self.server.seen.append(record)
        if self.path.startswith("/rate-limited"):
            self._answer(429, b"Rate exceeded.", "text/plain")
        elif self.path.startswith("/hang"):
            time.sleep(10)
            self._answer(504, b"late", "text/plain")
        else:
            forwarded = ("content-type", "x-api-key", "idempotency-key")
            headers = {k: v for k, v in self.headers.items() if k.lower() in forwarded}
            upstream = requests.post(self.server.function_url + self.path[3:], data=body, headers=headers, timeout=60)
            self._answer(upstream.status_code, upstream.content, upstream.headers["Content-Type"])
        record["status"] = self._status

    _status: int | str = "none"

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self._status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self._status = "client gone"  # n8n timed out and closed the connection


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "docs" / "n8n" / name).read_text())
    return data


def scenario(
    template: str, number: int, title: str, url: str, what: dict[str, Any] | None = None, **changes: Any
) -> dict[str, Any]:
    workflow = copy.deepcopy(load(template))
    workflow["id"] = f"cecRunScenario{number:02d}"
    workflow["name"] = f"{number:02d} {title}"[:128]
    nodes = {node["name"]: node for node in workflow["nodes"]}
    for node in workflow["nodes"]:
        if node["type"] == "n8n-nodes-base.httpRequest":
            node["parameters"]["url"] = url
            if "timeout_ms" in changes:
                node["parameters"]["options"]["timeout"] = changes["timeout_ms"]
    if what is not None:
        setter = nodes.get("What to delete") or nodes["What to preview"]
        setter["parameters"]["jsonOutput"] = json.dumps(what, indent=2)
    slack = nodes.get("Ask for approval in Slack")
    if slack is not None and changes.get("slack") == "disabled":
        slack["disabled"] = True
    elif slack is not None and changes.get("slack") == "approve":
        # In place of Slack's Send and Wait: the answer of an approval.
        slack.update(
            type="n8n-nodes-base.set",
            typeVersion=3.4,
            parameters={"mode": "raw", "jsonOutput": '{"data": {"approved": true}}', "options": {}},
        )
        slack.pop("credentials", None)
        slack.pop("webhookId", None)
    return workflow


def n8n(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        ["n8n", *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=CALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        output += f"\n(stopped after {CALL_TIMEOUT} s)"
    return subprocess.CompletedProcess(process.args, process.returncode, output, "")


def summarise(output: str) -> str:
    """The nodes that ran (with their run counts) and how the execution ended."""
    start = 0 if output.startswith("{") else output.find("\n{\n") + 1
    try:
        data = json.JSONDecoder().raw_decode(output[start:])[0] if output[start : start + 1] == "{" else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or "data" not in data:
        lines = [line for line in output.splitlines() if line.strip()]
        return "\n".join("    " + line[:300] for line in lines[-8:])
    result = data["data"]["resultData"]
    ran = ", ".join(f"{name} x{len(runs)}" for name, runs in result["runData"].items())
    error = result.get("error")
    # n8n puts a friendlier text in "message" for some causes (ECONNREFUSED); the node's own is in "messages".
    ended = f"error: {(error.get('messages') or [error.get('message', '')])[0][:400]}" if error else "success"
    last = result.get("lastNodeExecuted")
    return f"    status {data.get('status')}; last node {last!r}; {ended}\n    nodes run: {ran}"


def run(env: dict[str, str], home: Path, sim: SimulatorControl, proxy: Proxy, only: list[int] | None) -> None:
    fn = proxy.url + "/fn/"
    closed = f"http://127.0.0.1:{free_port()}/"
    delete, approve = "delete-called-routes.json", "preview-approve-apply.json"
    scenarios = [
        scenario(delete, 1, "dry run of dnids 1,2", fn, {"dnids": "1,2", "dryRun": True}),
        scenario(delete, 2, "delete dnids 1,2", fn, {"dnids": "1,2"}),
        scenario(delete, 3, "delete every route of hotline 9911411", fn, {"routes": [{"accessCode": "9911411"}]}),
        scenario(delete, 4, "delete by record id", fn, {"ids": ["1127986019188238340"]}),
        scenario(delete, 5, "a protected hotline", fn, {"routes": [{"accessCode": PROTECTED}]}),
        scenario(delete, 6, "429 text/plain from a front end", proxy.url + "/rate-limited", {"dnids": "20"}),
        scenario(delete, 7, "connection refused", closed, {"dnids": "21"}),
        scenario(delete, 8, "timeout (2 s)", proxy.url + "/hang", {"dnids": "22"}, timeout_ms=2000),
        scenario(approve, 9, "without Slack: the Slack node disabled", fn, slack="disabled"),
        scenario(approve, 10, "approved (a Set node in place of Slack)", fn, slack="approve"),
    ]
    if only:
        scenarios = [s for s in scenarios if int(s["name"][:2]) in only]
    print(f"n8n: {n8n(env, '--version').stdout.strip()}; user folder {home}")
    print(f"function {proxy.function_url} (behind the recording proxy {proxy.url}); simulator {sim.base_url}")

    credentials = home / "credentials.json"
    credentials.write_text(
        json.dumps(
            [
                {
                    "id": "cecFunctionKey01",
                    "name": CREDENTIAL_NAME,
                    "type": "httpHeaderAuth",
                    "data": {"name": "X-API-Key", "value": KEY},
                }
            ]
        )
    )
    print("\n$ n8n import:credentials --input=credentials.json")
    print(summarise(n8n(env, "import:credentials", f"--input={credentials}").stdout))
    for workflow in scenarios:
        path = home / f"{workflow['id']}.json"
        path.write_text(json.dumps(workflow))
        imported = n8n(env, "import:workflow", f"--input={path}")
        print(f"\n$ n8n import:workflow --input={path.name}   (exit {imported.returncode})")
        print(summarise(imported.stdout))

    for workflow in scenarios:
        before, seen = set(sim.deleted()), len(proxy.seen)
        started = time.monotonic()
        run = n8n(env, "execute", f"--id={workflow['id']}", "--rawOutput")
        elapsed = time.monotonic() - started
        print(f"\n=== {workflow['name']}")
        print(f"$ n8n execute --id={workflow['id']} --rawOutput   (exit {run.returncode}, {elapsed:.0f} s)")
        print(summarise(run.stdout))
        for record in proxy.seen[seen:]:
            key, status = record["idempotencyKey"], record.get("status")
            print(f"    request {record['path']}  Idempotency-Key {key}  -> {status}")
        deleted = sorted(set(sim.deleted()) - before)
        print(f"    simulator deleted dnids: {deleted}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n8n", type=Path, required=True, help="the folder install.sh installed n8n into")
    parser.add_argument("--only", type=int, nargs="*", help="scenario numbers to run (default: all)")
    args = parser.parse_args()
    install = args.n8n.resolve()
    home = Path(tempfile.mkdtemp(prefix="n8n-run-"))
    env = dict(
        os.environ,
        PATH=f"{install}/node24/package/bin:{install}/node_modules/.bin:{os.environ['PATH']}",
        N8N_USER_FOLDER=str(home),
        N8N_DIAGNOSTICS_ENABLED="false",
        N8N_VERSION_NOTIFICATIONS_ENABLED="false",
        N8N_PERSONALIZATION_ENABLED="false",
        N8N_LISTEN_ADDRESS="127.0.0.1",
        N8N_PORT=str(free_port()),
        N8N_RUNNERS_BROKER_PORT=str(free_port()),
        N8N_LOG_LEVEL="info",
    )
    cec_port, secrets_port = free_port(), free_port()
    sim_process = subprocess.Popen(
        [sys.executable, "-m", "cec_sim", "--cec-port", str(cec_port), "--secrets-port", str(secrets_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    function = FunctionServer(
        dict(
            os.environ,
            CALLER_AUTH="api_key",
            API_KEYS=f"n8n={KEY}",
            PLAN_SIGNING_KEYS="n8n-run-plan-signing-key-not-for-production",
            PROTECTED_ACCESS_CODES=PROTECTED,
            CEC_BASE_URL=f"http://127.0.0.1:{cec_port}",
            CEC_CREDENTIALS_SECRET="projects/demo/secrets/cec-credentials/versions/latest",
            SECRET_MANAGER_ENDPOINT=f"http://127.0.0.1:{secrets_port}",
            GOOGLE_CLOUD_PROJECT="demo",
        ),
        home / "function.log",
    )
    proxy: Proxy | None = None
    try:
        sim = SimulatorControl(f"http://127.0.0.1:{cec_port}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                sim.routes()
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        function.start()
        proxy = Proxy(function.url)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        run(env, home, sim, proxy, args.only)
    finally:
        if proxy is not None:
            proxy.shutdown()
        function.stop()
        stop_process(sim_process)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
