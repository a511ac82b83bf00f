"""The function under test, started the way Cloud Functions starts it.

``python -m functions_framework --target delete_called_route`` without ``--debug``
serves with gunicorn (one worker, four threads per CPU): the production shape. The
server-process test, the fuzzing, the load run and the demo all start it through here.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM so that gunicorn and the servers shut down cleanly; kill if they hang."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class FunctionServer:
    """One server process on 127.0.0.1; its stdout and stderr go to ``log_path``."""

    def __init__(self, env: Mapping[str, str], log_path: Path, *, source: Path = ROOT / "main.py") -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.source = source
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30.0, require_configured: bool = True) -> FunctionServer:
        """Start and wait until /healthz answers (and says configured, unless told not to)."""
        command = [
            sys.executable, "-m", "functions_framework", "--target", "delete_called_route",
            "--source", str(self.source), "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.source.parent, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                health = requests.get(self.url + "/healthz", timeout=1)
                if health.status_code == 200 and (health.json().get("configured") or not require_configured):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the function server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> FunctionServer:
        return self.start() if self.process is None else self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
