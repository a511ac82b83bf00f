"""The processes under test: the simulator with the fake Secret Manager, and the
function as Cloud Functions starts it; and the hard limit that stops them if the run hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cec_sim.function_server import FunctionServer, stop_process
from tests.load.config import BATCH_SIZE, CANARY_API_KEY, CEC_TIMEOUT_SECONDS, CREDENTIALS_SECRET

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        # Only the processes started here, by their own handle.
        stop_process(self.process)


def start_simulator(workdir: Path, children: list[Child]) -> tuple[str, str]:
    """The simulator and fake Secret Manager in a process of their own (their own GIL)."""
    log = workdir / "simulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cec_sim", "--cec-port", "0", "--secrets-port", "0"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    children.append(Child("simulator", process, log))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        first = log.read_text().split("\n", 1)[0]
        if first.startswith("{") and first.endswith("}"):
            urls = json.loads(first)
            return str(urls["cec"]), str(urls["secretManager"])
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"the simulator did not start:\n{log.read_text()}")


def function_environment(cec_url: str, secrets_url: str) -> dict[str, str]:
    # A clean environment, as on Cloud Run: no proxy variables, nothing of the shell.
    base = {name: os.environ[name] for name in ("PATH", "HOME", "TMPDIR") if name in os.environ}
    return {
        **base,
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "CALLER_AUTH": "api_key",
        "API_KEYS": CANARY_API_KEY,
        "CEC_BASE_URL": cec_url,
        "CEC_CREDENTIALS_SECRET": CREDENTIALS_SECRET + "/versions/latest",
        "SECRET_MANAGER_ENDPOINT": secrets_url,
        # Secrets are read again every second, so secret faults keep happening.
        "SECRET_CACHE_TTL_SECONDS": "1",
        "SECRET_TIMEOUT_SECONDS": str(CEC_TIMEOUT_SECONDS),
        "CEC_TIMEOUT_SECONDS": str(CEC_TIMEOUT_SECONDS),
        "CEC_TOKEN_TTL_SECONDS": "60",
        "CEC_BATCH_SIZE": str(BATCH_SIZE),
        "GOOGLE_CLOUD_PROJECT": "load-test",
    }


def start_function(workdir: Path, children: list[Child], env: dict[str, str]) -> str:
    """The real server: functions-framework's gunicorn with its production defaults."""
    server = FunctionServer(env, workdir / "function.log")
    try:
        server.start()
    finally:
        if server.process is not None:
            children.append(Child("function", server.process, server.log_path))
    return server.url


@contextmanager
def hard_limit(seconds: float, children: list[Child]) -> Iterator[None]:
    """The last resort if something hangs: stop our children and leave."""

    def expire() -> None:
        sys.stderr.write(f"run_load: hard time limit of {seconds:.0f} s reached; stopping\n")
        for child in children:
            child.stop()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
