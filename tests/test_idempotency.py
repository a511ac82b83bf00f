"""Idempotency keys: replay without upstream calls, in-progress and reused keys."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from cec_sim import SimulatorControl
from tests.conftest import API_KEY
from tests.test_auth import WEBHOOK_SECRET, signed_headers
from tests.test_requests import assert_problem


def test_replay_makes_no_upstream_call(post: Callable[..., Any], sim: SimulatorControl) -> None:
    first = post({"dnids": "1,2"}, headers={"Idempotency-Key": "run-1"})
    assert first.status_code == 200
    calls = len(sim.calls())
    again = post({"dnids": "1,2"}, headers={"Idempotency-Key": "run-1"})
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(sim.calls()) == calls


def test_same_key_other_body_is_422(post: Callable[..., Any], sim: SimulatorControl) -> None:
    assert post({"dnids": "1"}, headers={"Idempotency-Key": "run-2"}).status_code == 200
    problem = assert_problem(post({"dnids": "2"}, headers={"Idempotency-Key": "run-2"}), 422, "idempotency_key_reused")
    assert problem["retryable"] is False
    assert len(sim.calls("delete")) == 1


def test_key_order_and_whitespace_do_not_change_the_fingerprint(post: Callable[..., Any], client: FlaskClient) -> None:
    headers = {"X-API-Key": API_KEY, "Idempotency-Key": "run-3"}
    one = client.post("/", data='{"dnids":[1,2]}', content_type="application/json", headers=headers)
    two = client.post("/", data='{ "dnids" : [1, 2] }', content_type="application/json", headers=headers)
    assert one.status_code == two.status_code == 200
    assert two.headers.get("Idempotent-Replayed") == "true"


def test_in_progress_is_409_retryable(app: Any, sim: SimulatorControl, env: Callable[..., None]) -> None:
    sim.configure(latency=0.6)
    headers = {"X-API-Key": API_KEY, "Idempotency-Key": "run-4"}
    answers: list[int] = []

    def first() -> None:
        answers.append(app.test_client().post("/", json={"dnids": "1"}, headers=headers).status_code)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.3)
    second = app.test_client().post("/", json={"dnids": "1"}, headers=headers)
    thread.join(20)
    problem = assert_problem(second, 409, "in_progress")
    assert problem["retryable"] is True
    assert second.headers["Retry-After"] == "1"
    assert answers == [200]
    assert len(sim.calls("delete")) == 1


def test_failures_are_not_stored_so_a_retry_runs_again(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "status": 503, "times": 3})
    assert post({"dnids": "1"}, headers={"Idempotency-Key": "run-5"}).status_code == 503
    retried = post({"dnids": "1"}, headers={"Idempotency-Key": "run-5"})
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers


def test_webhook_id_is_the_key_for_redeliveries(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    body = json.dumps({"dnids": "1"}).encode()
    headers = signed_headers(body, msg_id="msg_redelivered")
    first = client.post("/", data=body, content_type="application/json", headers=headers)
    again = client.post("/", data=body, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(sim.calls("delete")) == 1


def test_cloud_scheduler_job_and_time_are_the_key(post: Callable[..., Any], sim: SimulatorControl) -> None:
    run = {"X-CloudScheduler-JobName": "nightly", "X-CloudScheduler-ScheduleTime": "2026-11-26T03:00:00Z"}
    assert post({"dnids": "1"}, headers=run).status_code == 200
    assert post({"dnids": "1"}, headers=run).headers["Idempotent-Replayed"] == "true"
    next_night = {**run, "X-CloudScheduler-ScheduleTime": "2026-11-27T03:00:00Z"}
    assert "Idempotent-Replayed" not in post({"dnids": "1"}, headers=next_night).headers
    assert len(sim.calls("delete")) == 1  # the next night ran, and its lookup found the route gone
    assert len(sim.calls("query")) == 3  # one page found dnid 1; the next night read both pages


def test_keys_are_scoped_per_caller(post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl) -> None:
    env(API_KEYS=f"{API_KEY},other-caller-key")
    assert post({"dnids": "1"}, headers={"Idempotency-Key": "k"}).status_code == 200
    other = post({"dnids": "2"}, headers={"Idempotency-Key": "k"}, key="other-caller-key")
    assert other.status_code == 200 and "Idempotent-Replayed" not in other.headers


def test_dry_runs_are_not_stored(post: Callable[..., Any], sim: SimulatorControl) -> None:
    headers = {"Idempotency-Key": "run-6"}
    assert post({"dnids": "1", "dryRun": True}, headers=headers).get_json()["status"] == "planned"
    real = post({"dnids": "1"}, headers=headers)
    assert real.get_json()["status"] == "deleted"


def test_across_instances_convergence_answers_instead(
    post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl
) -> None:
    assert post({"dnids": "1"}, headers={"Idempotency-Key": "run-7"}).status_code == 200
    env()  # a fresh instance: its store is empty
    again = post({"dnids": "1"}, headers={"Idempotency-Key": "run-7"})
    assert again.status_code == 200
    assert again.get_json()["results"][0]["outcome"] == "already_absent"
