"""The HTTP edge's figures for docs/SECURITY.md: ``python -m tests.edge.measure``.

Starts the real function server (functions-framework, gunicorn, no --debug) on
127.0.0.1 with the default BODY_TIMEOUT_SECONDS, as an unauthenticated caller would
meet it, and prints:

- the worker's peak RSS growth under a 128 MiB upload (Content-Length, then chunked);
- the time to answer a declared length over the limit;
- the time to give up a silent body and a dripping one;
- /healthz latency while ten stalled connections are open (silent, then dripping);
- what ``requests`` sees when it sends a 2 MiB and a 32 MiB body whole;
- a known limit: /healthz while ten connections send a header section that never ends;
- a known limit: what a request line that never ends costs the worker;
- what gunicorn answers itself, before our code runs, for malformed requests.

Bounded: every socket has a timeout and the whole run takes about 50 s.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from cec_sim.function_server import FunctionServer
from tests.edge import rawhttp

STALLED = 10

# Requests gunicorn refuses while parsing, before the WSGI application is called.
GUNICORN_PROBES: list[tuple[str, bytes]] = [
    ("space in a header name", b"POST / HTTP/1.1\r\nHost: h\r\nX Bad: 1\r\nContent-Length: 0\r\n\r\n"),
    ("NUL in a header value", b"POST / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n"),
    ("duplicate Content-Length", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"),
    ("Content-Length of 4301 nines", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + b"9" * 4301 + b"\r\n\r\n"),
    ("Content-Length: -1", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
    ("Content-Length: 1e3", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1e3\r\n\r\n"),
    (
        "Content-Length and Transfer-Encoding",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    ("Transfer-Encoding: gzip", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
    ("a header line over 8190 bytes", b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 8200 + b"\r\n\r\n"),
    (
        "101 header fields",
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n",
    ),
    ("obsolete line folding", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"),
    ("bare LF line ends", b"GET / HTTP/1.1\nHost: h\n\n"),
    ("a method with a bad character", b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n"),
    ("HTTP/2.0 on the request line", b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
    ("a header name with a bad character", b"GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n"),
    ("a request line over 4094 bytes", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: h\r\n\r\n"),
    ("a header line without a colon", b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
    ("HTTP/1.2 on the request line", b"GET / HTTP/1.2\r\nHost: h\r\n\r\n"),
    ("a request line with a space too many", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
]
# Requests that pass gunicorn and that Flask or Werkzeug refuse before the function runs:
# answered by the function's error handler (problem details).
FRAMEWORK_PROBES: list[tuple[str, bytes]] = [
    ("Host: a..b", b"POST / HTTP/1.1\r\nHost: a..b\r\nContent-Length: 2\r\n\r\n{}"),
    ("Host: a label over 63 characters", b"GET /healthz HTTP/1.1\r\nHost: " + b"x" * 64 + b".example\r\n\r\n"),
    ("GET /robots.txt", b"GET /robots.txt HTTP/1.1\r\nHost: h\r\n\r\n"),
    ("POST /favicon.ico", b"POST /favicon.ico HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"),
]


def _server(log_dir: Path) -> FunctionServer:
    env = rawhttp.env_for_edge("http://127.0.0.1:9")
    env.pop("BODY_TIMEOUT_SECONDS", None)  # the default, as deployed
    return FunctionServer(env, log_dir / "server.log").start()


def _rss(server: FunctionServer) -> None:
    assert server.process is not None
    worker = rawhttp.worker_pid(server.process.pid)
    print(f"worker pid {worker}, VmRSS {rawhttp.status_kib(worker, 'VmRSS') / 1024:.1f} MiB before the uploads")
    for chunked in (False, True):
        sampler = rawhttp.RssSampler(worker)
        sampler.start()
        answer, _uploader = rawhttp.upload(server.port, 128 * 1024 * 1024, chunked=chunked, timeout=60)
        growth = sampler.finish()
        framing = "chunked" if chunked else "Content-Length"
        print(
            f"128 MiB upload ({framing}): {answer.status} after {answer.seconds * 1000:.1f} ms, "
            f"{answer.extra['sent_before_answer'] / 1024:.0f} KiB sent by then; "
            f"worker peak RSS +{growth / 1024:.2f} MiB (VmHWM reset: {sampler.hwm_reset})"
        )


def _oversized(server: FunctionServer) -> None:
    times = []
    for _ in range(20):
        with rawhttp.connect(server.port, timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(rawhttp.post_head(length=2 * 1024 * 1024) + b"0123456789")
            answer = rawhttp.read_answer(sock, started)
            assert answer.status == 413, answer.status
            times.append(answer.seconds * 1000)
    median, worst = statistics.median(times), max(times)
    print(f"Content-Length 2097152 + 10 bytes: 413 in median {median:.1f} ms, max {worst:.1f} ms (20 runs)")


class Dripper(threading.Thread):
    """Sends a head, then one body byte every ``interval`` s until answered."""

    def __init__(self, port: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.sock = rawhttp.connect(port, timeout=15)
        self.interval = interval
        self.answer: rawhttp.Answer | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.sock.sendall(rawhttp.post_head(length=100) + b"{")
            self.sock.settimeout(self.interval)
            while not self.halt.is_set() and time.monotonic() - started < 15:
                try:
                    self.answer = rawhttp.read_answer(self.sock, started)
                    return
                except TimeoutError:
                    self.sock.sendall(b" ")
        except OSError:
            pass
        finally:
            self.sock.close()


def _stalls(server: FunctionServer) -> None:
    silent = Dripper(server.port, interval=30)  # never drips within the server's limits
    silent.start()
    silent.join(20)
    assert silent.answer is not None
    print(f"silent body (headers and '{{', then nothing): {silent.answer.status} after {silent.answer.seconds:.2f} s")
    drip = Dripper(server.port, interval=0.5)
    drip.start()
    drip.join(20)
    assert drip.answer is not None
    print(f"dripping body (a byte every 0.5 s): {drip.answer.status} after {drip.answer.seconds:.2f} s")


def _healthz_under(server: FunctionServer, interval: float, label: str, seconds: float) -> None:
    """/healthz every 50 ms for ``seconds`` while STALLED connections stall or drip."""
    drippers = [Dripper(server.port, interval) for _ in range(STALLED)]
    for dripper in drippers:
        dripper.start()
    time.sleep(0.1)
    latencies = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        answer = rawhttp.get(server.port, "/healthz", timeout=15)
        assert answer.status == 200
        latencies.append(answer.seconds * 1000)
        time.sleep(0.05)
    for dripper in drippers:
        dripper.halt.set()
        dripper.join(20)
    given_up = sorted(d.answer.seconds for d in drippers if d.answer is not None)
    print(
        f"/healthz every 50 ms for {seconds:g} s with {STALLED} {label} connections: {len(latencies)} answers, "
        f"first {latencies[0]:.0f} ms, median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms; "
        f"{len(given_up)} of the {STALLED} given up (408), after {given_up[0]:.2f}..{given_up[-1]:.2f} s"
        if given_up
        else f"/healthz with {STALLED} {label} connections: max {max(latencies):.0f} ms; none given up"
    )


def _client_library(server: FunctionServer) -> None:
    """What an ordinary client sees when it sends an oversized body whole."""
    for size in (2 * 1024 * 1024, 32 * 1024 * 1024):
        started = time.monotonic()
        try:
            answer = requests.post(
                server.url, data=b" " * size, headers={"Content-Type": "application/json"}, timeout=30
            )
            seen = f"{answer.status_code} {answer.headers.get('Content-Type')}"
        except requests.RequestException as exc:
            seen = f"no answer ({type(exc).__name__})"
        print(f"requests.post of {size >> 20} MiB: {seen} after {time.monotonic() - started:.2f} s")


def _partial_heads(server: FunctionServer) -> None:
    """A known limit: a header section that never ends holds a gunicorn thread before
    any of our code runs. /healthz is given 5 s, then the connections are closed."""
    socks = []
    try:
        for _ in range(STALLED):
            sock = rawhttp.connect(server.port, timeout=10)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nX-A: 1")
            socks.append(sock)
        time.sleep(0.5)
        started = time.monotonic()
        try:
            answer = rawhttp.get(server.port, "/healthz", timeout=5)
            seen = f"{answer.status} after {answer.seconds * 1000:.0f} ms"
        except OSError as exc:
            seen = f"no answer within {time.monotonic() - started:.1f} s ({type(exc).__name__})"
        print(f"/healthz with {STALLED} connections whose header section never ends: {seen}")
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.5)
    answer = rawhttp.get(server.port, "/healthz", timeout=10)
    print(f"/healthz once they are closed: {answer.status} after {answer.seconds * 1000:.0f} ms")


def _endless_request_line(server: FunctionServer, seconds: float = 15.0) -> None:
    """A known limit: functions-framework gives gunicorn no request-line limit
    (``limit_request_line: 0``), so a request line that never ends is read for as long
    as it comes. Sent as fast as the worker takes it for ``seconds``, then closed."""
    assert server.process is not None
    worker = rawhttp.worker_pid(server.process.pid)
    sampler = rawhttp.RssSampler(worker)
    sampler.start()
    sent = 0
    started = time.monotonic()
    with rawhttp.connect(server.port, timeout=seconds) as sock:
        sock.sendall(b"GET /")
        piece = b"a" * 65536
        try:
            while time.monotonic() - started < seconds:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass
    growth = sampler.finish()
    print(
        f"a request line that never ends: {sent / 2**20:.1f} MiB taken in {time.monotonic() - started:.1f} s;"
        f" worker peak RSS +{growth / 1024:.1f} MiB"
    )
    time.sleep(0.5)
    answer = rawhttp.get(server.port, "/healthz", timeout=10)
    print(f"/healthz once it is closed: {answer.status} after {answer.seconds * 1000:.0f} ms")


def _gunicorn(server: FunctionServer) -> None:
    for title, probes in (
        ("requests gunicorn answers itself (before our code runs):", GUNICORN_PROBES),
        ("requests Flask or Werkzeug refuse (the function's error handler answers):", FRAMEWORK_PROBES),
    ):
        _probe(server, title, probes)
    assert rawhttp.get(server.port, "/healthz").status == 200


def _probe(server: FunctionServer, title: str, probes: list[tuple[str, bytes]]) -> None:
    print(title)
    for label, data in probes:
        try:
            answer = rawhttp.exchange(server.port, data, timeout=5)
            seen = f"{answer.status} {answer.headers.get('content-type', '-')}"
        except (OSError, ConnectionError) as exc:
            seen = f"no answer ({type(exc).__name__})"
        print(f"  {label}: {seen}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {socket.gethostname()}")
    with tempfile.TemporaryDirectory() as tmp:
        server = _server(Path(tmp))
        try:
            rawhttp.get(server.port, "/healthz")
            _rss(server)
            _oversized(server)
            _stalls(server)
            _healthz_under(server, interval=30, label="silent", seconds=3)
            _healthz_under(server, interval=0.5, label="dripping", seconds=11)
            _client_library(server)
            _partial_heads(server)
            _endless_request_line(server)
            _gunicorn(server)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
