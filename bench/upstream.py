"""Upstream calls (token, secret, delete) per served request, counted exactly.

wrk abandons the requests in flight when its time is up, so its count of answers
and the simulator's count of calls never cover quite the same requests. Here a
fixed number of requests is sent and every one is waited for.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from bench import config
from bench.results import UpstreamCount
from cec_sim import FakeSecretManagerControl, SimulatorControl

CONCURRENCY = 8


def count(
    url: str, headers: dict[str, str], sim: SimulatorControl, fake: FakeSecretManagerControl, n: int
) -> UpstreamCount:
    local = threading.local()

    def send(_: int) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session: requests.Session = local.session
        return session.post(url, data=config.LOAD_BODY, headers=headers, timeout=30).status_code

    sim.clear_calls()
    secrets_before = len(fake.calls())
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        statuses = list(pool.map(send, range(n)))
    calls = sim.calls()
    sim.clear_calls()
    return UpstreamCount(
        served=n,
        token=sum(c["stage"] == "token" for c in calls),
        secret=len(fake.calls()) - secrets_before,
        delete=sum(c["stage"] == "delete" for c in calls),
        failed_answers=sum(s != 200 for s in statuses),
    )
