"""function/http_deadline.py over real HTTP: the simulator drips its answers, and every
call is cut at its own wall-clock deadline, whichever order the calls come in.

The watchdog thread sleeps until the earliest deadline and is woken only by a call
whose deadline is earlier than its own next wake-up; with nothing in flight it lingers
on a timer before it sleeps for good (waking it on every call cost a thread switch and
a GIL hand-off per upstream call): these tests hold it to that, with calls whose
deadlines are earlier and later than the one it sleeps for, calls that begin while it
lingers and after, and the count of its context switches.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
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


def _quick_call(session: requests.Session, url: str, seconds: float) -> None:
    with deadline(seconds):
        assert session.post(url, json={"dnids": "1"}, timeout=SOCKET_TIMEOUT).status_code == 403


# Idle before the call: woken at 0.2 s to an empty heap, then lingering on a 30 s timer;
# or lingered 0.1 s and now waiting for a notify.
@pytest.mark.parametrize(("linger", "idle"), [(30.0, 0.5), (0.1, 0.8)], ids=["lingering", "slept for good"])
def test_a_call_that_begins_while_the_watchdog_idles_is_cut_at_its_own(
    sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch, linger: float, idle: float
) -> None:
    monkeypatch.setattr(http_deadline._watchdog, "linger_seconds", linger)
    session, results = _session(), dict[str, Any]()
    url = sim.base_url + DELETE
    _quick_call(session, url, 0.2)  # done at once
    time.sleep(idle)
    _drip(sim, times=1)
    _call(session, url, 0.6, results, "call")
    assert results["call"][0] == "expired"
    assert results["call"][1] < 0.6 + MARGIN  # not held until the linger's end


def voluntary_switches(thread: threading.Thread) -> int:
    """The thread's voluntary context switches so far, from Linux's /proc."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts context switches from Linux's /proc")
def test_back_to_back_calls_do_not_wake_the_watchdog_one_by_one(
    sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long linger and longer deadlines, so that no timer of the thread ends during the
    # loop, however slow the machine: what is left is the wake-ups the calls cause.
    monkeypatch.setattr(http_deadline._watchdog, "linger_seconds", 30.0)
    session = _session()
    url = sim.base_url + DELETE
    _quick_call(session, url, 0.2)  # starts the thread if no test has yet
    time.sleep(0.5)  # it woke at 0.2 s to nothing in flight, as between requests, and lingers
    thread = http_deadline._watchdog._thread
    assert thread is not None and thread.is_alive()
    before = voluntary_switches(thread)
    for _ in range(50):
        _quick_call(session, url, 60.0)
    woken = voluntary_switches(thread) - before
    # Before, every call found the heap empty and woke the thread: over 100 switches here.
    assert woken <= 5, woken
