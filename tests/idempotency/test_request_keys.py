"""Which key a request runs under, and a store no caller can empty: over the in-process app.

Issue 9, item 6: for a signed webhook the signed webhook-id is the key, always.
Issue 9, item 12: no in-progress entry is evicted; no caller evicts another's entries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from cec_sim import SimulatorControl
from function.callers.auth import Caller
from function.state.idempotency import request_key
from tests.conftest import API_KEY
from tests.test_auth import WEBHOOK_SECRET, signed_headers
from tests.test_requests import assert_problem

OTHER_KEY = "other-caller-key-987654321"


def _signed(client: FlaskClient, body: dict[str, Any], msg_id: str, **extra: str) -> Any:
    data = json.dumps(body).encode()
    headers = {**signed_headers(data, msg_id=msg_id), **extra}
    return client.post("/", data=data, content_type="application/json", headers=headers)


def test_an_unsigned_idempotency_key_does_not_make_a_signed_replay_run_again(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    first = _signed(client, {"dnids": "1"}, "msg_captured")
    assert first.status_code == 200 and first.get_json()["status"] == "deleted"
    scheduler = {"X-CloudScheduler-JobName": "j", "X-CloudScheduler-ScheduleTime": "t"}
    for extra in ({"Idempotency-Key": "anything"}, scheduler):
        replay = _signed(client, {"dnids": "1"}, "msg_captured", **extra)
        assert replay.status_code == 200
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.get_data() == first.get_data()
    assert len(sim.calls("delete")) == 1


def test_a_seen_webhook_id_with_another_body_is_422_whatever_the_headers_say(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    assert _signed(client, {"dnids": "1"}, "msg_once").status_code == 200
    other = _signed(client, {"dnids": "2"}, "msg_once", **{"Idempotency-Key": "fresh"})
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(sim.calls("delete")) == 1


def test_a_signed_replay_while_the_first_runs_is_409(app: Any, env: Callable[..., None], sim: SimulatorControl) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    sim.inject({"stage": "delete", "delay": 1.2, "times": 1, "afterAction": True})
    answers: list[int] = []
    thread = threading.Thread(
        target=lambda: answers.append(_signed(app.test_client(), {"dnids": "1"}, "msg_slow").status_code)
    )
    thread.start()
    time.sleep(0.4)
    second = _signed(app.test_client(), {"dnids": "1"}, "msg_slow", **{"Idempotency-Key": "x"})
    thread.join(20)
    assert_problem(second, 409, "in_progress")
    assert answers == [200]
    assert len(sim.calls("delete")) == 1


def test_a_replayed_signed_dry_run_runs_again(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    for _ in range(2):
        answer = _signed(client, {"dnids": "1", "dryRun": True}, "msg_dry")
        assert answer.status_code == 200 and answer.get_json()["status"] == "planned"
        assert "Idempotent-Replayed" not in answer.headers
    assert sim.calls("delete") == []


def test_keys_by_caller_method() -> None:
    webhook = Caller("webhook", "webhook", "webhook")
    headers = {"webhook-id": "msg_1", "Idempotency-Key": "other", "X-CloudScheduler-JobName": "j"}
    assert request_key(headers, webhook, dry_run=False) == request_key({"webhook-id": "msg_1"}, webhook, dry_run=False)
    assert request_key(headers, webhook, dry_run=True) is None
    api = Caller("api_key", "api_key:a", "api_key:a")
    key = request_key(headers, api, dry_run=False)
    assert key is not None and (key.source, key.value) == ("idempotency-key", "other")
    run = {"X-CloudScheduler-JobName": "j", "X-CloudScheduler-ScheduleTime": "t"}
    a = request_key(run, Caller("iam", "iam:a@x", "iam:a@x"), dry_run=False)
    b = request_key(run, Caller("iam", "iam:b@x", "iam:b@x"), dry_run=False)
    assert a is not None and b is not None and a.source == "cloud-scheduler" and a.scoped != b.scoped


def test_a_running_request_is_never_evicted_by_a_full_store(
    app: Any, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(IDEMPOTENCY_MAX_ENTRIES="2")
    sim.inject({"stage": "delete", "delay": 1.5, "times": 1, "afterAction": True})
    headers = {"X-API-Key": API_KEY, "Idempotency-Key": "slow"}
    answers: list[int] = []
    thread = threading.Thread(
        target=lambda: answers.append(app.test_client().post("/", json={"dnids": "1"}, headers=headers).status_code)
    )
    thread.start()
    time.sleep(0.5)
    client = app.test_client()
    for key in ("fill-1", "fill-2", "fill-3"):
        filled = client.post("/", json={"dnids": "2"}, headers={"X-API-Key": API_KEY, "Idempotency-Key": key})
        assert filled.status_code == 200
    duplicate = client.post("/", json={"dnids": "1"}, headers=headers)
    thread.join(20)
    assert_problem(duplicate, 409, "in_progress")
    assert answers == [200]
    slow = [call for call in sim.calls("delete") if call["body"] == {"dnids": "1"}]
    assert len(slow) == 1  # the slow one ran once: no second run


def test_one_caller_filling_the_store_does_not_evict_another_callers_answer(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(API_KEYS=f"{API_KEY},{OTHER_KEY}", IDEMPOTENCY_MAX_ENTRIES="4")

    def send(key: str, idem: str, dnids: str) -> Any:
        headers = {"X-API-Key": key, "Idempotency-Key": idem}
        return client.post("/", json={"dnids": dnids}, headers=headers)

    assert send(API_KEY, "mine", "1").status_code == 200
    for n in range(12):
        assert send(OTHER_KEY, f"flood-{n}", "2").status_code == 200
    again = send(API_KEY, "mine", "1")
    assert again.headers.get("Idempotent-Replayed") == "true"
    # The flooder's own oldest answers made the room.
    assert "Idempotent-Replayed" not in send(OTHER_KEY, "flood-0", "2").headers


def test_a_caller_at_its_quota_evicts_only_its_own_oldest(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(API_KEYS=f"{API_KEY},{OTHER_KEY}", IDEMPOTENCY_MAX_ENTRIES_PER_CALLER="2")
    headers = {"X-API-Key": API_KEY, "Idempotency-Key": "mine"}
    assert client.post("/", json={"dnids": "1"}, headers=headers).status_code == 200
    for n in range(3):
        flood = {"X-API-Key": OTHER_KEY, "Idempotency-Key": f"flood-{n}"}
        assert client.post("/", json={"dnids": "2"}, headers=flood).status_code == 200
    assert client.post("/", json={"dnids": "1"}, headers=headers).headers.get("Idempotent-Replayed") == "true"
    newest = {"X-API-Key": OTHER_KEY, "Idempotency-Key": "flood-2"}
    assert client.post("/", json={"dnids": "2"}, headers=newest).headers.get("Idempotent-Replayed") == "true"
    oldest = {"X-API-Key": OTHER_KEY, "Idempotency-Key": "flood-0"}
    assert "Idempotent-Replayed" not in client.post("/", json={"dnids": "2"}, headers=oldest).headers
