"""function/http_deadline.py over real HTTP: the simulator drips its answers, and every
call is cut at its own wall-clock deadline, whichever order the calls come in.

The watchdog thread sleeps until the earliest deadline and is woken only by a call
with an earlier one (waking it on every call cost a thread switch per upstream call):
these tests hold it to that, with calls whose deadlines are earlier and later than
the one it sleeps for.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from cec_sim import SimulatorControl
from function import http_deadline
from function.http_deadline import CallExpired, DeadlineAdapter, deadline

DELETE = "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute"
# requests' own timeout bounds each socket read; a drip of one byte every DRIP seconds
# never trips it, so only the deadline can end these calls.
SOCKET_TIMEOUT = 30.0
DRIP = 0.5
MARGIN = 1.0


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(pool_maxsize=4, max_retries=0))
    return session


def _drip(sim: SimulatorControl, times: int) -> None:
    sim.inject({"stage": "delete", "drip": DRIP, "dripBodyOnly": True, "dripMaxSeconds": 20, "times": times})


def _call(session: requests.Session, url: str, seconds: float, results: dict[str, Any], name: str) -> None:
    started = time.monotonic()
    try:
        with deadline(seconds):
            session.post(url, json={"dnids": "1"}, timeout=SOCKET_TIMEOUT)
        results[name] = ("answered", time.monotonic() - started)
    except CallExpired:
        results[name] = ("expired", time.monotonic() - started)


def _in_thread(*args: Any) -> threading.Thread:
    thread = threading.Thread(target=_call, args=args, daemon=True)
    thread.start()
    time.sleep(0.3)  # the first call is in flight (and the watchdog asleep for it)
    return thread


def test_a_call_with_an_earlier_deadline_wakes_the_watchdog(sim: SimulatorControl) -> None:
    _drip(sim, times=2)
    session, results = _session(), dict[str, Any]()
    url = sim.base_url + DELETE
    slow = _in_thread(session, url, 4.0, results, "long")
    _call(session, url, 0.6, results, "short")
    slow.join(timeout=10)
    assert results["short"][0] == "expired"
    assert results["short"][1] < 0.6 + MARGIN  # not held until the 4 s call's deadline
    assert results["long"][0] == "expired"
    assert 4.0 - 0.1 <= results["long"][1] < 4.0 + MARGIN


def test_a_call_with_a_later_deadline_is_cut_at_its_own(sim: SimulatorControl) -> None:
    _drip(sim, times=2)
    session, results = _session(), dict[str, Any]()
    url = sim.base_url + DELETE
    first = _in_thread(session, url, 1.0, results, "first")
    _call(session, url, 2.0, results, "second")  # later than the one the watchdog sleeps for
    first.join(timeout=10)
    assert results["first"][0] == "expired"
    assert results["first"][1] < 1.0 + MARGIN
    assert results["second"][0] == "expired"
    assert 2.0 - 0.1 <= results["second"][1] < 2.0 + MARGIN


def test_finished_calls_leave_the_watchdog(sim: SimulatorControl) -> None:
    """The watchdog no longer wakes per call to drop finished ones: finishing drops them."""
    session = _session()
    url = sim.base_url + DELETE
    before = len(http_deadline._watchdog._heap)
    for _ in range(50):
        with deadline(10.0):
            response = session.post(url, json={"dnids": "1"}, timeout=SOCKET_TIMEOUT)
        assert response.status_code == 403  # answered at once (no token: refused)
    assert len(http_deadline._watchdog._heap) <= before
