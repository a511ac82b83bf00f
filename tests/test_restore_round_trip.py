"""Delete, then undo: the real server process (gunicorn) deletes big hotlines with long,
non-ASCII descriptions by every selector, and scripts/restore_routes.py brings every route
back, with its codes, target and media type, from the server's own stdout and from the
shape ``gcloud logging read --format=json`` gives (LogEntry objects, newest first).

The server reads its AK/SK from CEC_CREDENTIALS_FILE (the deployment default) and sets
nothing about signing: its records are signed by default and the restore verifies them
with the credentials it needs anyway.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import ROOT, server_env

API_KEY = "round-trip-key-0123456789"
HOTLINES = {"8800100": 300, "8800200": 120, "8800300": 60, "8800400": 40}  # routes, ids, planToken, dnids
MEDIA = [5, 19, None, 2, 53]
DESCRIPTIONS = [
    "客服热线技能队列" * 40,  # 320 CJK characters
    "Service client ☎ \U0001f4de " * 20 + "x" * 100,
    "d" * 500,
]
CAPTURED = ("accessCode", "extCode", "devicetype", "deviceId")


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "cec-credentials.json"
    path.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    return path


@pytest.fixture
def server(sim: SimulatorControl, credentials: Path, tmp_path: Path) -> Iterator[FunctionServer]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_FILE=str(credentials),
        PLAN_SIGNING_KEYS="round-trip-plan-key-0123456789abcdef",
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running


def seed(sim: SimulatorControl) -> None:
    start = 20000
    for access, count in HOTLINES.items():
        sim.add_routes(count, start, access_code=access)
        start += 1000
    for route in sim.routes():
        if route["accessCode"] in HOTLINES:
            dnid = route["dnid"]
            sim.update_route(
                dnid,
                deviceDesc=DESCRIPTIONS[dnid % len(DESCRIPTIONS)] + str(dnid),
                mediatypeId=MEDIA[dnid % len(MEDIA)],
                devicetype=(1, 3)[dnid % 2],
                deviceId=dnid % 37 + 1,
            )


def hotline_routes(sim: SimulatorControl) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["accessCode"], r["extCode"]): r for r in sim.routes() if r["accessCode"] in HOTLINES}


def media(route: dict[str, Any]) -> int | None:
    # The simulator spells it both ways, as the API's documents do.
    value: int | None = route.get("mediatypeId", route.get("mediaTypeId"))
    return value


def captured(route: dict[str, Any]) -> tuple[Any, ...]:
    return (*(route[k] for k in CAPTURED), media(route))


def call(server: FunctionServer, body: dict[str, Any], request_id: str) -> dict[str, Any]:
    headers = {"X-API-Key": API_KEY, "X-Request-Id": request_id}
    response = requests.post(server.url, json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def delete_every_way(server: FunctionServer, sim: SimulatorControl, round_name: str) -> list[str]:
    now = hotline_routes(sim)
    ids = [r["id"] for r in now.values() if r["accessCode"] == "8800200"]
    dnids = [r["dnid"] for r in now.values() if r["accessCode"] == "8800400"]
    call(server, {"routes": [{"accessCode": "8800100"}]}, f"{round_name}-routes")
    call(server, {"ids": ids}, f"{round_name}-ids")
    plan = call(server, {"routes": [{"accessCode": "8800300"}], "dryRun": True}, f"{round_name}-plan")
    call(server, {"planToken": plan["planToken"]}, f"{round_name}-token")
    call(server, {"dnids": dnids}, f"{round_name}-dnids")
    assert hotline_routes(sim) == {}
    return [f"{round_name}-{name}" for name in ("routes", "ids", "token", "dnids")]


def audit_lines(server: FunctionServer, request_ids: list[str]) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in server.log_path.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("message") == "called routes deleted" and x["requestId"] in request_ids]


def as_gcloud_lists_it(line: dict[str, Any], number: int) -> dict[str, Any]:
    """A LogEntry as `gcloud logging read --format=json` prints it: the special fields
    moved out of jsonPayload, numbers as Cloud Logging keeps them (doubles)."""
    payload = {k: v for k, v in line.items() if k not in ("severity", "time", "logging.googleapis.com/labels")}

    def doubles(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: doubles(v) for k, v in value.items()}
        if isinstance(value, list):
            return [doubles(v) for v in value]
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    return {
        "insertId": f"entry{number}",
        "jsonPayload": doubles(payload),
        "labels": line["logging.googleapis.com/labels"],
        "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
        "receiveTimestamp": line["time"],
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "cec-delete-called-route"}},
        "severity": line["severity"],
        "timestamp": line["time"],
    }


def restore(sim: SimulatorControl, credentials: Path, source: Path) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "scripts" / "restore_routes.py"), str(source), "--apply", "--json"]
    env = server_env(CEC_BASE_URL=sim.base_url, CEC_CREDENTIALS_FILE=str(credentials))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def check_back(sim: SimulatorControl, before: dict[tuple[str, str], dict[str, Any]], report: dict[str, Any]) -> None:
    after = hotline_routes(sim)
    assert set(after) == set(before)
    for codes, old in before.items():
        new = after[codes]
        recorded_media = media(old)
        expected = (*captured(old)[:4], recorded_media if recorded_media is not None else 5)
        assert captured(new) == expected, codes
        assert report["map"][str(old["dnid"])] == {"dnid": str(new["dnid"]), "id": new["id"], "oldId": old["id"]}
    nulls = {r["old"]["dnid"] for r in report["routes"] if any(n["field"] == "mediaTypeId" for n in r["console"])}
    assert nulls == {str(r["dnid"]) for r in before.values() if media(r) is None}


def test_every_deleted_route_comes_back_from_stdout_and_from_gcloud_json(
    server: FunctionServer, sim: SimulatorControl, credentials: Path, tmp_path: Path
) -> None:
    seed(sim)
    before = hotline_routes(sim)
    assert len(before) == sum(HOTLINES.values())
    first = delete_every_way(server, sim, "first")
    lines = audit_lines(server, first)
    assert {x["audit"]["requestId"] for x in lines} == set(first)
    assert max(x["audit"]["parts"] for x in lines) > 1  # the 300-route hotline took several parts
    assert not any("truncated" in x or "truncatedOutsideAudit" in x for x in lines)

    report = restore(sim, credentials, server.log_path)
    assert {r["status"] for r in report["routes"]} == {"restored"}
    check_back(sim, before, report)

    before = hotline_routes(sim)
    second = delete_every_way(server, sim, "second")
    entries = [as_gcloud_lists_it(x, n) for n, x in enumerate(audit_lines(server, second))]
    exported = tmp_path / "gcloud.json"
    exported.write_text(json.dumps(list(reversed(entries)), ensure_ascii=False), encoding="utf-8")
    report = restore(sim, credentials, exported)
    assert {r["status"] for r in report["routes"]} == {"restored"}
    check_back(sim, before, report)


@pytest.fixture
def small_batches(sim: SimulatorControl, credentials: Path, tmp_path: Path) -> Iterator[FunctionServer]:
    """Default settings but batches of 50 and a 2 s call timeout, so that a failure can
    land on one batch of several and a slow delete can outlast its call."""
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_FILE=str(credentials),
        CEC_BATCH_SIZE="50",
        CEC_TIMEOUT_SECONDS="2",
    )
    with FunctionServer(env, tmp_path / "small-batches.log") as running:
        yield running


def test_routes_gone_through_each_failure_path_come_back(
    small_batches: FunctionServer, sim: SimulatorControl, credentials: Path
) -> None:
    seed(sim)
    before = hotline_routes(sim)
    headers = {"X-API-Key": API_KEY}

    def post(body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(small_batches.url, json=body, headers=headers, timeout=60)
        assert response.status_code in (200, 207), response.text
        answer: dict[str, Any] = response.json()
        return answer

    # Plain dnids (looked up first, by default): the first batch's answer is lost after the
    # API deleted, the transport sends it again, and the API then has nothing to delete.
    sim.inject({"stage": "delete", "afterAction": True, "drop": "reset"})
    post({"dnids": [r["dnid"] for r in before.values() if r["accessCode"] == "8800100"]})
    # ids: the first batch's call outlasts its timeout and the API deletes after the
    # function gave up; the later batches are not sent.
    sim.inject({"stage": "delete", "delay": 2.6, "afterAction": True})
    slow = post({"ids": [r["id"] for r in before.values() if r["accessCode"] == "8800200"]})
    assert {r["outcome"] for r in slow["results"]} == {"unknown", "not_sent"}
    # routes: the first batch's answer comes back garbled after the API deleted.
    sim.inject({"stage": "delete", "afterAction": True, "body": "html"})
    post({"routes": [{"accessCode": "8800300"}]})

    for _ in range(50):  # the slow delete lands after its call was given up
        if all(r["accessCode"] != "8800200" or r["dnid"] % 1000 >= 50 for r in hotline_routes(sim).values()):
            break
        time.sleep(0.1)
    gone = {codes: route for codes, route in before.items() if codes not in hotline_routes(sim)}
    # All of the dnids; the first batch of the ids and of the routes (the rest not sent).
    assert collections.Counter(code for code, _ in gone) == {"8800100": 300, "8800200": 50, "8800300": 50}

    command = [
        sys.executable, str(ROOT / "scripts" / "restore_routes.py"), str(small_batches.log_path),
        "--apply", "--json", "--include-unverified",
    ]  # fmt: skip
    env = server_env(CEC_BASE_URL=sim.base_url, CEC_CREDENTIALS_FILE=str(credentials))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    after = hotline_routes(sim)
    assert set(after) == set(before)
    for codes, old in gone.items():
        recorded_media = media(old)
        assert captured(after[codes]) == (*captured(old)[:4], recorded_media if recorded_media is not None else 5)
