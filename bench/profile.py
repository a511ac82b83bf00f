"""Optional (--profile): sample the function's worker with py-spy under load (GIL holders only,
so the samples are the CPU the worker spends, not its threads waiting on sockets).

The profile is taken in an extra load point after the measured ones, so the
sampler's own cost never reaches the reported figures.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import threading
from pathlib import Path

from bench import config, wrk
from bench.procs import LOG_DIR, Running

TOP = 25


def record(server: Running, url: str, headers: dict[str, str], concurrency: int, seconds: float) -> Path:
    """Write py-spy's collapsed stacks of the worker while wrk loads it; print the top frames."""
    py_spy = shutil.which("py-spy") or str(Path(config.PYTHON).with_name("py-spy"))
    # The gunicorn worker serves: the arbiter's child. Neither RSS nor CPU so far picks
    # it, as the arbiter imported the source before forking (both sampled the idle
    # arbiter: 0 samples).
    tree = server.tree()
    worker = next((p for p in tree if p.pid != server.ps.pid), tree[0])
    out = LOG_DIR / f"{server.name}-c{concurrency}.collapsed"
    command = [py_spy, "record", "--pid", str(worker.pid), "--duration", f"{seconds:g}"]
    command += ["--rate", "250", "--gil", "--format", "raw", "--output", str(out), "--nonblocking"]
    spy = threading.Thread(target=subprocess.run, args=(command,), kwargs={"capture_output": True, "timeout": 120})
    spy.start()
    wrk.run(url, concurrency=concurrency, seconds=seconds + 1, body=config.LOAD_BODY, headers=headers)
    spy.join()
    summarize(out)
    return out


def summarize(path: Path) -> None:
    """Print the frames with the most samples: inclusive (anywhere on the stack) and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"\npy-spy: {total} samples in {path}")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"-- top {TOP} frames, {title}")
        for frame, count in counter.most_common(TOP):
            print(f"{100 * count / max(total, 1):5.1f} %  {frame}")
