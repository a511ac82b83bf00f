"""Cold start (process start to first answered request) and import time of main.py."""

from __future__ import annotations

import re
import statistics
import subprocess
import time

import requests

from bench import config, procs
from bench.procs import Contender
from bench.results import Startup

_IMPORT_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+(\d+)\s+\|\s*main\s*$")


def first_request(contender: Contender, url: str, headers: dict[str, str]) -> requests.Response:
    if contender.first_method == "GET":
        return requests.get(url, timeout=30)
    return requests.post(url, data=config.LOAD_BODY, headers=headers, timeout=30)


def cold_starts(contenders: list[Contender], headers: dict[str, str], repeats: int) -> dict[str, Startup]:
    """Round-robin over the contenders, so a noisy moment does not land on one of them."""
    cold: dict[str, list[float]] = {c.name: [] for c in contenders}
    listen: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(repeats):
        for contender in contenders:
            started = time.perf_counter()
            running = procs.start(contender)
            try:
                procs.wait_listening(running)
                listen[contender.name].append(time.perf_counter() - started)
                response = first_request(contender, running.url, headers)
                cold[contender.name].append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(
                        f"{contender.name}: first request answered {response.status_code}; see {running.log}"
                    )
            finally:
                running.stop()
    return {
        name: Startup(cold_s=statistics.median(samples), listen_s=statistics.median(listen[name]), samples_s=samples)
        for name, samples in cold.items()
    }


def import_times(contenders: list[Contender], repeats: int) -> dict[str, float]:
    """Median cumulative import time of each entry module, as `python -X importtime` reports it.

    The contenders take turns, one import each per round: this machine's timings switch
    between a fast and a slow mode for seconds at a time (import main took about 390 or
    about 600 ms, back to back), and a contender measured in a block of its own could
    land in one mode while the next one lands in the other.
    """
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(repeats):
        for contender in contenders:
            samples[contender.name].append(_import_once(contender))
    return {name: statistics.median(values) for name, values in samples.items()}


def _import_once(contender: Contender) -> float:
    result = subprocess.run(
        [config.PYTHON, "-X", "importtime", "-c", "import main"],
        cwd=contender.source.parent,
        env=contender.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    match = next(filter(None, (_IMPORT_LINE.match(ln) for ln in result.stderr.splitlines())), None)
    if match is None:
        raise RuntimeError(f"no import time for main in {contender.source}")
    return int(match.group(1)) / 1000
