"""A description of the machine and software the figures were measured on."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

import psutil

from bench import wrk


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _wrk_version() -> str:
    # wrk prints its version in the usage text it shows for -v.
    out = subprocess.run([wrk.wrk_binary(), "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split("Copyright")[0].strip() if first else "unknown"


def describe() -> dict[str, str]:
    load1, load5, _ = os.getloadavg()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "CPU model": _cpu_model(),
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "functions-framework / gunicorn": f"{version('functions-framework')} / {version('gunicorn')}",
        "load generator": _wrk_version(),
        "load average before the run (1 min / 5 min)": f"{load1:.2f} / {load5:.2f}",
    }
