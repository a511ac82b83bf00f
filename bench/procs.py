"""Starting, watching and stopping the servers: simulator, contenders, hello-world."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from bench import config
from cec_sim.function_server import free_port, stop_process

LOG_DIR = Path(tempfile.mkdtemp(prefix="cec-bench-"))
START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Contender:
    """A functions-framework function: where it lives and how it is configured."""

    name: str
    source: Path
    target: str
    env: dict[str, str]
    first_method: str = "POST"

    def command(self, port: int) -> list[str]:
        # The console script, as Cloud Functions runs it; no --debug, so gunicorn.
        return [
            config.FUNCTIONS_FRAMEWORK,
            *("--target", self.target, "--source", str(self.source)),
            *("--host", "127.0.0.1", "--port", str(port)),
        ]

    def environment(self) -> dict[str, str]:
        # A clean environment, as on Cloud Run: nothing of the caller's shell leaks in
        # (PYTHONDONTWRITEBYTECODE would recompile every module on each start,
        # proxy variables would change what requests does), and gunicorn keeps its
        # production defaults (THREADS, WORKERS unset: 1 worker, 4 threads per CPU).
        base = {name: os.environ[name] for name in ("PATH", "HOME", "TMPDIR") if name in os.environ}
        return {**base, "LANG": "C.UTF-8", **self.env}


class Running:
    """A started process with its URL, its log file and its process tree."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.name = name
        self.process = process
        self.url = url
        self.log = log
        self.ps = psutil.Process(process.pid)

    def tree(self) -> list[psutil.Process]:
        """The gunicorn arbiter and its worker (the worker serves; both cost memory)."""
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def peak_rss_mib(self) -> tuple[float, float]:
        """(whole tree, largest process): the kernel's high-water mark, not a sample."""
        peaks = [_status_kib(proc.pid, "VmHWM") / 1024 for proc in self.tree()]
        return sum(peaks), max(peaks, default=0.0)

    def stop(self) -> None:
        stop_process(self.process)


def _status_kib(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def start(contender: Contender) -> Running:
    port = free_port()
    log = LOG_DIR / f"{contender.name}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            contender.command(port),
            cwd=contender.source.parent,
            env=contender.environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Running(contender.name, process, f"http://127.0.0.1:{port}/", log)


def wait_listening(running: Running, timeout: float = START_TIMEOUT_SECONDS) -> None:
    host, port = running.url.split("//")[1].rstrip("/").split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise SystemExit(f"{running.name} exited with code {running.process.returncode}; see {running.log}")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.005)
    raise SystemExit(f"{running.name} did not listen within {timeout:.0f} s; see {running.log}")


@dataclass(frozen=True)
class Simulator:
    running: Running
    cec_url: str
    secrets_url: str


def start_simulator(options: config.Options) -> Simulator:
    cec_port, secrets_port = free_port(), free_port()
    command = [
        config.PYTHON,
        *("-m", "cec_sim", "--cec-port", str(cec_port), "--secrets-port", str(secrets_port)),
        *("--latency-ms", str(options.latency_ms), "--secrets-latency-ms", str(options.secrets_latency_ms)),
        "--keep-routes",
    ]
    log = LOG_DIR / "simulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=config.ROOT, stdout=out, stderr=subprocess.STDOUT)
    running = Running("simulator", process, f"http://127.0.0.1:{cec_port}", log)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not log.read_text().strip():
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited with code {process.returncode}; see {log}")
        time.sleep(0.05)
    urls = json.loads(log.read_text().splitlines()[0])
    return Simulator(running, urls["cec"], urls["secretManager"])


def fetch_token(sim: Simulator) -> str:
    """A token for `floor` and the direct-to-simulator run, valid for the whole run."""
    response = requests.post(
        sim.cec_url + config.TOKEN_PATH,
        json={"app_key": config.APP_KEY, "app_secret": config.APP_SECRET},
        headers={"X-Token-Expire": "3600"},
        timeout=10,
    )
    response.raise_for_status()
    token: str = response.json()["AccessToken"]
    return token
