"""Peak memory of a server's process tree while it is under load.

gunicorn's arbiter loads the function and forks the worker, so the two share most
pages: adding their RSS counts those twice. The sum of PSS (each shared page split
between its users) is what the container's memory actually holds, so it is the
figure the target is checked on; the worker's own RSS high-water mark is shown too.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psutil

from bench.procs import Running

INTERVAL_SECONDS = 0.25


class PeakSampler:
    """Samples the tree's summed PSS in a thread between ``with`` entry and exit."""

    def __init__(self, running: Running) -> None:
        self._running = running
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.peak_pss_mib = 0.0

    def sample(self) -> float:
        total = 0.0
        for proc in self._running.tree():
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        mib = total / (1024 * 1024)
        self.peak_pss_mib = max(self.peak_pss_mib, mib)
        return mib

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            self.sample()

    def __enter__(self) -> PeakSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
