"""The real thing: the functions-framework server process (gunicorn, production settings).

Started exactly as Cloud Functions' Python runtime starts it (no --debug), talking to
the simulator and the fake Secret Manager over loopback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY, CREDENTIALS_SECRET, server_env


@pytest.fixture
def server(sim: SimulatorControl, secrets: FakeSecretManagerControl, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
        GOOGLE_CLOUD_PROJECT="test-project",
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running.url, running.log_path


def test_round_trip_and_concurrent_cold_start(
    server: tuple[str, Path], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    url, log_path = server
    sim.configure(latency=0.2)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def one(dnid: int) -> None:
        barrier.wait()
        response = requests.post(url, json={"dnids": [dnid]}, headers={"X-API-Key": API_KEY}, timeout=30)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=one, args=(dnid,)) for dnid in range(20, 28)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 8
    assert len(sim.calls("token")) == 1  # eight cold requests in parallel, one token
    assert len(secrets.calls()) == 1

    response = requests.post(url, json={"dnids": "1,2"}, headers={"X-API-Key": API_KEY}, timeout=30)
    assert response.status_code == 200
    assert response.json()["deleted"] == ["9911411", "99114111"]

    bad = requests.post(url, data=b"x" * (1024 * 1024 + 10), headers={"Content-Type": "application/json"}, timeout=30)
    assert bad.status_code == 413
    assert bad.headers["Content-Type"] == "application/problem+json"
    # The framework drains the rest of the body after our answer; the connection and
    # the server must survive that.
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    assert requests.get(url + "/robots.txt", timeout=5).json()["code"] == "not_found"

    time.sleep(0.2)
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]
    summaries = [json.loads(line) for line in lines if '"httpRequest"' in line]
    assert sum(1 for s in summaries if s["httpRequest"]["status"] == 200 and s["message"].startswith("POST")) == 9
    assert all(s["severity"] in ("INFO", "WARNING", "ERROR") for s in summaries)
