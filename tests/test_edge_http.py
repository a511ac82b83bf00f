"""The HTTP edge over real HTTP, against the real server process (gunicorn, no --debug).

Raw sockets where a client library would not send the request: broken chunked framing,
a body shorter than declared, bodies that stall or drip, a declared length over the
limit. Issue 9, items 1, 3, 4, 5, 10 and the logging part of 13.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY
from tests.edge import rawhttp

JSON_TYPES = ("application/json", "application/problem+json")


class Running:
    def __init__(self, server: FunctionServer) -> None:
        self.server = server
        self.port = server.port
        self.log_path = server.log_path

    def log_lines(self) -> list[str]:
        time.sleep(0.2)  # the worker writes its summary line after the answer
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if line.startswith("{")]

    def entries(self, request_id: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_lines() if request_id in line]


@pytest.fixture(scope="module")
def edge(sim_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = rawhttp.env_for_edge(sim_server.url, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
    log_path = tmp_path_factory.mktemp("edge") / "server.log"
    with FunctionServer(env, log_path) as server:
        yield Running(server)


def _is_json_answer(answer: rawhttp.Answer) -> bool:
    return answer.headers.get("content-type", "").split(";")[0] in JSON_TYPES and "x-request-id" in answer.headers


# -- item 1: no header value, however long or odd, crashes the function -----------------

ODD_VALUES = [
    "a" * 32 + "/" + "9" * 4301,  # the reproduction: int() of 4301 digits raises
    "a" * 32 + "/" + "9" * 25 + ";o=1",
    "00-" + "f" * 32 + "-" + "f" * 16 + "-ff",
    "9" * 8000,
    "-1",
    "1e999",
    "\xff\xfe\xe9\xa0",  # latin-1 bytes that are not UTF-8
    "\t",
    "a" * 32 + "/18446744073709551616;o=1",
]
PARSED_HEADERS = [
    "traceparent",
    "X-Cloud-Trace-Context",
    "X-Request-Id",
    "Idempotency-Key",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-CloudScheduler-JobName",
    "X-CloudScheduler-ScheduleTime",
    "X-API-Key",
    "Content-Type",
]


@pytest.mark.parametrize("name", PARSED_HEADERS)
def test_odd_header_values_get_json_answers(edge: Running, sim: SimulatorControl, name: str) -> None:
    # ``sim`` resets the simulator: a fault another test left would make dry runs 504.
    body = b'{"dnids": "1", "dryRun": true}'
    for value in ODD_VALUES:
        for key in (None, API_KEY):
            headers = {name: value}
            if key and name != "X-API-Key":
                headers["X-API-Key"] = key
            head = rawhttp.post_head(headers=headers, length=len(body))
            answer = rawhttp.exchange(edge.port, head + body)
            assert answer.status < 500, (name, value[:40], answer.status, answer.body[:200])
            assert _is_json_answer(answer), (name, value[:40], answer.raw_head)
    assert not [line for line in edge.log_lines() if "unexpected error" in line]


def test_span_id_is_64_bit_or_dropped(edge: Running) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    cases = {
        "span-max": (f"{trace}/18446744073709551615;o=1", "ffffffffffffffff"),
        "span-over": (f"{trace}/18446744073709551616;o=1", None),
        "span-zero": (f"{trace}/0;o=1", None),
        "span-long": (f"{trace}/{'9' * 4301};o=1", None),
    }
    for request_id, (header, _span) in cases.items():
        answer = rawhttp.exchange(
            edge.port, rawhttp.get_head("/healthz", {"X-Cloud-Trace-Context": header, "X-Request-Id": request_id})
        )
        assert answer.status == 200
    for request_id, (_header, span) in cases.items():
        (entry,) = edge.entries(f'"requestId": "{request_id}"')
        assert entry["logging.googleapis.com/trace"] == f"projects/test-project/traces/{trace}"
        assert entry.get("logging.googleapis.com/spanId") == span, request_id


def test_log_lines_escape_line_separators_and_controls(edge: Running) -> None:
    # U+2028, U+2029, NEL (U+0085) and DEL in the path reach the summary line.
    answer = rawhttp.exchange(
        edge.port, rawhttp.get_head("/a%E2%80%A8b%E2%80%A9c%C2%85d%7Fe", {"X-Request-Id": "esc-1"})
    )
    assert answer.status == 404
    raw = [line for line in edge.log_lines() if '"esc-1"' in line]
    assert raw, "no summary line for the request"
    for line in raw:
        assert not set(line) & {"\u2028", "\u2029", "\x85", "\x7f"}, line
        assert "\\u2028" in line and "\\u0085" in line
        assert json.loads(line)["httpRequest"]["requestUrl"] == "/a\u2028b\u2029c\x85d\x7fe"


# -- item 3: broken framing is the caller's fault -----------------------------------------


def test_broken_chunked_framing_is_a_400_problem(edge: Running) -> None:
    for framing in (b"zz\r\nab\r\n0\r\n\r\n", b"2\r\nabXY0\r\n\r\n", b"2;\x01\r\nab\r\n0\r\n\r\n"):
        head = rawhttp.post_head(headers={"Transfer-Encoding": "chunked", "X-API-Key": API_KEY})
        answer = rawhttp.exchange(edge.port, head + framing)
        assert answer.status == 400, (framing, answer.body[:200])
        assert answer.json()["code"] == "malformed_body"


def test_body_shorter_than_declared_is_a_400_problem(edge: Running) -> None:
    with rawhttp.connect(edge.port) as sock:
        sock.sendall(rawhttp.post_head(length=100) + b'{"dnids": "1"}')
        sock.shutdown(socket.SHUT_WR)  # the client is done: 86 bytes short
        answer = rawhttp.read_answer(sock)
    assert answer.status == 400
    assert answer.json()["code"] == "malformed_body"


# -- item 4: memory before authentication -----------------------------------------------


def test_128_mib_upload_does_not_grow_the_worker(sim_server: Any, tmp_path: Path) -> None:
    env = rawhttp.env_for_edge(sim_server.url)
    with FunctionServer(env, tmp_path / "server.log") as server:
        assert server.process is not None
        worker = rawhttp.worker_pid(server.process.pid)
        rawhttp.get(server.port, "/healthz")  # warm: the first request imports the function
        for chunked in (False, True):
            sampler = rawhttp.RssSampler(worker)
            sampler.start()
            answer, _uploader = rawhttp.upload(server.port, 128 * 1024 * 1024, chunked=chunked, timeout=60)
            growth_kib = sampler.finish()
            assert answer.status == 413
            assert answer.json()["code"] == "payload_too_large"
            assert growth_kib <= 8 * 1024, f"worker RSS grew {growth_kib} KiB (chunked={chunked})"
        assert rawhttp.get(server.port, "/healthz").status == 200


# -- item 5: threads before authentication ----------------------------------------------


def test_oversized_declared_length_is_answered_without_the_body(edge: Running) -> None:
    with rawhttp.connect(edge.port, timeout=5) as sock:
        sock.sendall(rawhttp.post_head(length=2 * 1024 * 1024) + b"0123456789")
        answer = rawhttp.read_answer(sock)  # the old code waited for the body: timeout
    assert answer.status == 413
    assert answer.json()["code"] == "payload_too_large"


def test_stalled_and_dripping_bodies_are_given_up(edge: Running) -> None:
    # BODY_TIMEOUT_SECONDS=2 in this server: a silent body ends after the 1 s pause
    # limit, a dripping one (a byte every 0.5 s) at the 2 s deadline.
    with rawhttp.connect(edge.port, timeout=8) as sock:
        sock.sendall(rawhttp.post_head(length=100) + b"{")
        answer = rawhttp.read_answer(sock)
    assert answer.status == 408
    assert answer.json()["code"] == "body_timeout"
    assert answer.json()["retryable"] is True

    with rawhttp.connect(edge.port, timeout=8) as sock:
        sock.sendall(rawhttp.post_head(length=100))
        started = time.monotonic()
        sock.settimeout(0.5)
        answer: rawhttp.Answer | None = None
        while answer is None and time.monotonic() - started < 8:
            try:
                sock.sendall(b" ")
                answer = rawhttp.read_answer(sock)
            except TimeoutError:
                continue
    assert answer is not None and answer.status == 408


def test_healthz_answers_while_ten_connections_stall(edge: Running) -> None:
    stalled: list[socket.socket] = []
    try:
        for number in range(20):
            sock = rawhttp.connect(edge.port, timeout=10)
            if number % 2:
                sock.sendall(rawhttp.post_head(length=100) + b"{")
            else:
                sock.sendall(rawhttp.post_head(length=2 * 1024 * 1024) + b"0123456789")
            stalled.append(sock)
        time.sleep(0.2)
        health = rawhttp.get(edge.port, "/healthz", timeout=8)  # the old code: no thread left
        assert health.status == 200
        assert health.json()["status"] == "ok"
    finally:
        for sock in stalled:
            sock.close()


# -- item 10: output size -----------------------------------------------------------------


def test_many_unknown_keys_give_a_short_answer(edge: Running) -> None:
    document: dict[str, object] = {f"k{i:05d}": 1 for i in range(95000)}
    document["dnids"] = "1"
    body = json.dumps(document, separators=(",", ":")).encode()
    assert len(body) <= 1024 * 1024
    answer = rawhttp.exchange(edge.port, rawhttp.post_head(headers={"X-API-Key": API_KEY}, length=len(body)) + body)
    assert answer.status == 400
    problem = answer.json()
    assert problem["code"] == "invalid_request"
    assert len(problem["errors"]) == 20
    assert "95000 errors" in problem["detail"]
    assert len(answer.body) < 16 * 1024


def test_a_long_key_name_is_not_echoed_whole(edge: Running) -> None:
    body = json.dumps({"x" * 1_000_000: 1, "dnids": "1"}).encode()
    answer = rawhttp.exchange(edge.port, rawhttp.post_head(headers={"X-API-Key": API_KEY}, length=len(body)) + body)
    assert answer.status == 400
    assert answer.json()["errors"][0]["pointer"].startswith("/xxx")
    assert len(answer.body) < 4 * 1024


def test_a_long_path_makes_short_log_lines(edge: Running) -> None:
    answer = rawhttp.exchange(edge.port, rawhttp.get_head("/" + "p" * 1_000_000, {"X-Request-Id": "long-path"}))
    assert answer.status == 404
    assert len(answer.body) < 4 * 1024
    lines = [line for line in edge.log_lines() if '"long-path"' in line]
    assert lines
    assert max(len(line.encode()) for line in edge.log_lines()) < 64 * 1024


def test_routes_that_take_no_body_answer_without_waiting_for_one(edge: Running) -> None:
    # functions-framework's hook would read (and wait for) the body after any answer.
    for method, path, status in (("PUT", "/", 405), ("POST", "/healthz", 405), ("POST", "/robots.txt", 404)):
        head = f"{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 2097152\r\n\r\n".encode()
        with rawhttp.connect(edge.port, timeout=5) as sock:
            sock.sendall(head + b"0123")
            answer = rawhttp.read_answer(sock)
        assert answer.status == status, (method, path)
        assert answer.headers["content-type"] == "application/problem+json"
    assert rawhttp.get(edge.port, "/healthz").status == 200
