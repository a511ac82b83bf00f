"""Two real function servers (functions-framework, gunicorn) sharing one Firestore
emulator and one simulator: duplicates are caught whichever instance they reach."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import CREDENTIALS_SECRET, server_env
from tests.idempotency.emulator import FirestoreEmulator
from tests.test_auth import WEBHOOK_SECRET, signed_headers

SCHEDULER = "scheduler@test-project.iam.gserviceaccount.com"


def id_token(email: str) -> str:
    """An ID token as Cloud Run passes it on: the signature removed."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'email': email, 'sub': '1'})}.SIGNATURE_REMOVED_BY_GOOGLE"


def delete_runs(sim: SimulatorControl) -> int:
    """deleteCalledRoute calls, less those refused for a token from before the simulator's
    reset (each instance renews its token once and retries: not a second run)."""
    return sum(1 for call in sim.calls("delete") if call["status"] not in (401, 403))


def instance_env(sim_url: str, secrets_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = server_env(
        CALLER_AUTH="webhook,iam",
        WEBHOOK_SECRET=WEBHOOK_SECRET,
        CEC_BASE_URL=sim_url,
        CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets_url,
        GOOGLE_CLOUD_PROJECT="test-project",
        # Identities Cloud Run let through; the forger is one of them (test below).
        IAM_ALLOWED_PRINCIPALS=f"serviceAccount:{SCHEDULER}, user:intruder@elsewhere.example",
    )
    env.update(extra)
    return env


def firestore_env(emulator: FirestoreEmulator, collection: str) -> dict[str, str]:
    return {
        "IDEMPOTENCY_STORE": "firestore",
        "IDEMPOTENCY_FIRESTORE_COLLECTION": collection,
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        # Generous: two cores shared by many; a store that answers late is not what is tested here.
        "IDEMPOTENCY_STORE_TIMEOUT_SECONDS": "10",
    }


@pytest.fixture(scope="module")
def pair(
    firestore_emulator: FirestoreEmulator, sim_server: Any, sm_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    secrets = FakeSecretManagerControl(sm_server.url)
    secrets.add_version(CREDENTIALS_SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    env = instance_env(sim_server.url, sm_server.url, firestore_env(firestore_emulator, "pair-" + uuid.uuid4().hex))
    logs = tmp_path_factory.mktemp("pair")
    with FunctionServer(env, logs / "a.log") as one, FunctionServer(env, logs / "b.log") as two:
        for server in (one, two):
            warm(server.url)
        yield one.url, two.url


def warm(url: str) -> None:
    """One keyed request, so that the cold path (imports, Firestore channel, secret, token)
    is out of the way of the timings that follow."""
    headers = {"Authorization": "Bearer " + id_token(SCHEDULER), "Idempotency-Key": "warm-" + uuid.uuid4().hex}
    answer = requests.post(url, json={"dnids": "7"}, headers=headers, timeout=30)
    assert answer.status_code == 422 and answer.json()["status"] == "failed", answer.text  # dnid 7 does not exist


def _signed_post(url: str, data: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=data, headers={**headers, "Content-Type": "application/json"}, timeout=30)


def test_the_same_signed_webhook_at_both_instances_deletes_once(
    pair: tuple[str, str], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    sim.configure(latency=0.3)
    data = json.dumps({"dnids": "1"}).encode()
    headers = signed_headers(data, msg_id="msg_" + uuid.uuid4().hex)
    answers: list[requests.Response] = []
    barrier = threading.Barrier(2)

    def send(url: str) -> None:
        barrier.wait()
        answers.append(_signed_post(url, data, headers))

    threads = [threading.Thread(target=send, args=(url,)) for url in pair]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(a.status_code for a in answers)
    assert delete_runs(sim) == 1
    first = next(a for a in answers if a.status_code == 200 and "Idempotent-Replayed" not in a.headers)
    assert first.json()["status"] == "deleted"
    other = next(a for a in answers if a is not first)
    assert (other.status_code == 409 and other.json()["code"] == "in_progress") or (
        other.headers.get("Idempotent-Replayed") == "true" and other.content == first.content
    ), statuses
    # Later redeliveries to either instance replay the one answer.
    for url in pair:
        again = _signed_post(url, data, headers)
        assert again.headers.get("Idempotent-Replayed") == "true" and again.content == first.content
    assert delete_runs(sim) == 1


def test_a_scheduler_retry_at_the_other_instance_while_the_first_runs_is_not_a_second_run(
    pair: tuple[str, str], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    sim.inject({"stage": "delete", "delay": 2.0, "times": 1, "afterAction": True})
    run = {
        "Authorization": "Bearer " + id_token(SCHEDULER),
        "X-CloudScheduler-JobName": "projects/p/locations/l/jobs/nightly",
        "X-CloudScheduler-ScheduleTime": f"2026-12-01T03:00:00.{uuid.uuid4().int % 10**6:06d}Z",
    }
    answers: list[requests.Response] = []
    thread = threading.Thread(target=lambda: answers.append(requests.post(pair[0], json={"dnids": "1"}, headers=run)))
    thread.start()
    time.sleep(0.8)
    retry = requests.post(pair[1], json={"dnids": "1"}, headers=run, timeout=30)
    thread.join(30)
    assert retry.status_code == 409 and retry.json()["code"] == "in_progress", retry.text
    assert retry.headers["Retry-After"] == "1"
    assert [a.status_code for a in answers] == [200]
    later = requests.post(pair[1], json={"dnids": "1"}, headers=run, timeout=30)
    assert later.headers.get("Idempotent-Replayed") == "true" and later.content == answers[0].content
    assert delete_runs(sim) == 1


def test_a_key_reused_with_another_body_at_the_other_instance_is_422(
    pair: tuple[str, str], sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> None:
    headers = {"Authorization": "Bearer " + id_token(SCHEDULER), "Idempotency-Key": "k-" + uuid.uuid4().hex}
    assert requests.post(pair[0], json={"dnids": "1"}, headers=headers, timeout=30).status_code == 200
    reused = requests.post(pair[1], json={"dnids": "2"}, headers=headers, timeout=30)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert delete_runs(sim) == 1


def test_a_killed_instances_claim_is_taken_over_after_its_hold_not_before(
    firestore_emulator: FirestoreEmulator, sim: SimulatorControl, secrets: FakeSecretManagerControl, tmp_path: Path
) -> None:
    budget = 6.0
    hold = budget + 5.0  # guard.HOLD_MARGIN_SECONDS
    env = instance_env(
        sim.base_url,
        secrets.base_url,
        {**firestore_env(firestore_emulator, "kill-" + uuid.uuid4().hex), "REQUEST_BUDGET_SECONDS": str(budget)},
    )
    headers = {"Authorization": "Bearer " + id_token(SCHEDULER), "Idempotency-Key": "k-" + uuid.uuid4().hex}
    with FunctionServer(env, tmp_path / "a.log") as one, FunctionServer(env, tmp_path / "b.log") as two:
        for server in (one, two):
            warm(server.url)
        sim.clear_calls()
        sim.inject({"stage": "delete", "delay": 2.5, "times": 1, "afterAction": True})  # within the budget
        thread = threading.Thread(
            target=lambda: _swallow(lambda: requests.post(one.url, json={"dnids": "1"}, headers=headers, timeout=15))
        )
        started = time.time()  # the claim is made after this ...
        thread.start()
        deadline = time.monotonic() + 10
        while not sim.calls("delete") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.calls("delete"), "the first instance never reached the upstream"
        claimed_by = sim.calls("delete")[0]["at"]  # ... and before its first upstream delete
        assert one.process is not None
        kill_tree(one.process.pid)  # SIGKILL mid-request, gunicorn's worker too: no chance to free its claim
        one.process.wait(10)
        thread.join(20)
        early = requests.post(two.url, json={"dnids": "1"}, headers=headers, timeout=30)
        assert time.time() < started + hold, "the machine was too slow for this check"
        assert early.status_code == 409 and early.json()["code"] == "in_progress"
        time.sleep(max(0.0, claimed_by + hold + 0.5 - time.time()))
        late = requests.post(two.url, json={"dnids": "1"}, headers=headers, timeout=30)
        assert late.status_code == 200 and "Idempotent-Replayed" not in late.headers
        assert late.json()["status"] == "deleted"


def test_forged_scheduler_headers_from_another_identity_do_not_touch_the_real_jobs_run(
    sim: SimulatorControl, secrets: FakeSecretManagerControl, tmp_path: Path
) -> None:
    """Issue 9 item 7, over real HTTP, with the default memory store: IAM callers have a
    scope per identity, so forged X-CloudScheduler-* headers land in the forger's own."""
    env = instance_env(sim.base_url, secrets.base_url, {"CALLER_AUTH": "iam"})
    run = {"X-CloudScheduler-JobName": "projects/p/locations/l/jobs/nightly", "X-CloudScheduler-ScheduleTime": "T1"}
    with FunctionServer(env, tmp_path / "server.log") as server:
        forger = {**run, "Authorization": "Bearer " + id_token("intruder@elsewhere.example")}
        assert requests.post(server.url, json={"dnids": "2"}, headers=forger, timeout=30).status_code == 200
        real = {**run, "Authorization": "Bearer " + id_token(SCHEDULER)}
        answer = requests.post(server.url, json={"dnids": "1"}, headers=real, timeout=30)
        assert answer.status_code == 200 and "Idempotent-Replayed" not in answer.headers
        assert answer.json()["deleted"] == ["9911411"]
        forged_again = requests.post(server.url, json={"dnids": "1"}, headers=forger, timeout=30)
        assert forged_again.status_code == 422  # the forger's own key, with another body


def kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants (gunicorn's worker is the master's child)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    os.kill(pid, signal.SIGKILL)  # first, so that it cannot start a new worker
    for kid in kids:
        kill_tree(kid)


def _swallow(call: Any) -> None:
    with contextlib.suppress(requests.RequestException):
        call()  # suppressed: the instance was killed under it
