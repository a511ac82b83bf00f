"""Driving wrk (Debian's package) with bench/post.lua and reading its one JSON line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import config

SCRIPT = config.BENCH / "post.lua"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and non-2xx answers

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (bench/run.sh does it when run as root)")
    return found


def run(url: str, *, concurrency: int, seconds: float, body: bytes, headers: dict[str, str]) -> WrkResult:
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:
        Path(body_file.name).write_bytes(body)
        env = dict(
            os.environ,
            BENCH_BODY_FILE=body_file.name,
            BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in headers.items()),
        )
        # wrk takes whole seconds only. One wrk thread: the machine is small, and one epoll loop outruns any
        # Python server here; a second thread would only take CPU from the servers.
        command = [
            wrk_binary(),
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(SCRIPT),
        ]
        out = subprocess.run(
            [*command, url], env=env, capture_output=True, text=True, timeout=seconds + 30, check=True
        ).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=errors,
    )
