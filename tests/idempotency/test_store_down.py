"""The Firestore store unreachable (a closed port) or silent (accepts, never answers).

IDEMPOTENCY_ON_STORE_ERROR=fail answers a retryable 503 idempotency_unavailable before
anything is deleted; =proceed runs without the store. Never a hang, never a 500. These
need google-cloud-firestore, not the emulator.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cec_sim import SimulatorControl
from cec_sim.function_server import free_port
from tests.conftest import ROOT
from tests.test_requests import assert_problem

TIMEOUT = 1.0
SLACK = 2.0  # the answer may take the store's timeout plus this


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def _configure(env: Callable[..., None], monkeypatch: pytest.MonkeyPatch, port: int, policy: str) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
    env(
        IDEMPOTENCY_STORE="firestore",
        GOOGLE_CLOUD_PROJECT="test-project",
        IDEMPOTENCY_STORE_TIMEOUT_SECONDS=str(TIMEOUT),
        IDEMPOTENCY_ON_STORE_ERROR=policy,
    )


def _post(post: Callable[..., Any], key: str | None = "k-1") -> tuple[Any, float]:
    started = time.monotonic()
    answer = post({"dnids": "1"}, headers={"Idempotency-Key": key} if key else {})
    return answer, time.monotonic() - started


@pytest.mark.parametrize("where", ["closed", "silent"])
def test_fail_policy_is_a_retryable_503_before_any_deletion(
    post: Callable[..., Any],
    env: Callable[..., None],
    sim: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
    silent_port: int,
    where: str,
) -> None:
    _configure(env, monkeypatch, free_port() if where == "closed" else silent_port, "fail")
    answer, took = _post(post)
    problem = assert_problem(answer, 503, "idempotency_unavailable")
    assert problem["retryable"] is True
    assert int(answer.headers["Retry-After"]) >= 1
    assert took < TIMEOUT + SLACK
    assert sim.calls("delete") == []
    # A request without a key never asks the store, so it runs.
    unkeyed, _ = _post(post, key=None)
    assert unkeyed.status_code == 200


@pytest.mark.parametrize("where", ["closed", "silent"])
def test_proceed_policy_runs_without_the_store_and_logs_it(
    post: Callable[..., Any],
    env: Callable[..., None],
    sim: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    silent_port: int,
    where: str,
) -> None:
    _configure(env, monkeypatch, free_port() if where == "closed" else silent_port, "proceed")
    capsys.readouterr()
    answer, took = _post(post)
    assert answer.status_code == 200 and answer.get_json()["status"] == "deleted"
    assert took < TIMEOUT + SLACK + 1.0  # the claim's timeout, then the deletion
    assert len(sim.calls("delete")) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summary = [line for line in lines if line.get("message") == "POST / 200"]
    assert summary and "idempotencyStoreError" in summary[0]
    assert any("going on without the store" in line.get("message", "") for line in lines)


def test_the_firestore_client_is_imported_on_the_first_keyed_request_only(tmp_path: Any) -> None:
    """Configuring the store costs no import at start-up; the first claim pays it (~0.5-1.5 s)."""
    code = (
        "import sys, main\n"
        "from function import settings\n"
        "from function.state import idempotency\n"
        "store = idempotency.build_store(settings.get_settings())\n"
        "assert type(store).__name__ == 'FirestoreStore', store\n"
        "print('google.cloud.firestore' in sys.modules)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "IDEMPOTENCY_STORE": "firestore",
        "GOOGLE_CLOUD_PROJECT": "p",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
