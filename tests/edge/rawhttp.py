"""Raw-socket HTTP/1.1 for the edge tests and the measurement: framing that no client
library would send, bodies that stall, and the server's worker process seen from /proc.

Loopback only; every socket has a timeout, so nothing here waits for ever.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float = 0.0
    raw_head: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_answer(sock: socket.socket, started: float | None = None) -> Answer:
    """One response from ``sock``; the body by Content-Length, else until the server closes."""
    started = time.monotonic() if started is None else started
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed before a full response head: {data[:200]!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None:
        while len(rest) < int(length):
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        rest = rest[: int(length)]
    else:
        try:
            while piece := sock.recv(65536):
                rest += piece
        except OSError:
            pass
    return Answer(status, headers, rest, time.monotonic() - started, head.decode("latin-1"))


def exchange(port: int, data: bytes, timeout: float = 10.0) -> Answer:
    """Send ``data`` as is and read one answer."""
    with connect(port, timeout) as sock:
        started = time.monotonic()
        sock.sendall(data)
        return read_answer(sock, started)


def post_head(path: str = "/", headers: dict[str, str] | None = None, *, length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    if not any(name.lower() == "content-type" for name in headers or {}):
        lines.append("Content-Type: application/json")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def get_head(path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def get(port: int, path: str, timeout: float = 10.0) -> Answer:
    return exchange(port, get_head(path), timeout)


class Uploader(threading.Thread):
    """Sends a head and then ``total`` body bytes (chunked if asked) as fast as the server
    takes them, while the caller reads the answer on the same socket. Stops at the first
    send error (the server closed) or when done."""

    def __init__(self, sock: socket.socket, head: bytes, total: int, *, chunked: bool = False) -> None:
        super().__init__(daemon=True)
        self.sock, self.head, self.total, self.chunked = sock, head, total, chunked
        self.sent = 0
        self.error: str | None = None

    def run(self) -> None:
        piece = b" " * 65536
        if self.chunked:
            piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
        try:
            self.sock.sendall(self.head)
            while self.sent < self.total:
                self.sock.sendall(piece)
                self.sent += 65536
            if self.chunked:
                self.sock.sendall(b"0\r\n\r\n")
        except OSError as exc:
            self.error = type(exc).__name__


def children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def worker_pid(master: int, timeout: float = 10.0) -> int:
    """The gunicorn worker: the master's only child."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children(master)
        if len(kids) == 1:
            return kids[0]
        time.sleep(0.1)
    raise RuntimeError(f"no single worker under gunicorn master {master}")


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


class RssSampler(threading.Thread):
    """The highest VmRSS of ``pid`` seen every 5 ms, and VmHWM once reset to now
    (``clear_refs`` 5, where the kernel allows it), so a peak between samples counts too."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.baseline_kib = status_kib(pid, "VmRSS")
        self.hwm_reset = _reset_hwm(pid)
        self.peak_kib = self.baseline_kib
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
            time.sleep(0.005)

    def finish(self) -> int:
        """Peak growth over the baseline, in KiB."""
        self._halt.set()
        self.join(5)
        peak = self.peak_kib
        if self.hwm_reset:
            peak = max(peak, status_kib(self.pid, "VmHWM"))
        return peak - self.baseline_kib


def _reset_hwm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def upload(port: int, total: int, *, chunked: bool, timeout: float = 60.0) -> tuple[Answer, Uploader]:
    """An unauthenticated POST of ``total`` bytes; the answer and what the uploader managed."""
    head = post_head(length=None if chunked else total, headers={"Transfer-Encoding": "chunked"} if chunked else None)
    sock = connect(port, timeout)
    try:
        uploader = Uploader(sock, head, total, chunked=chunked)
        started = time.monotonic()
        uploader.start()
        answer = read_answer(sock, started)
        # What the server had taken when it answered; then stop the sender (a blocked
        # send returns once the socket is shut down).
        answer.extra["sent_before_answer"] = uploader.sent
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        uploader.join(timeout)
        return answer, uploader
    finally:
        sock.close()


def env_for_edge(base_url: str, app_key: str = "edge-test-ak", app_secret: str = "edge-test-sk") -> dict[str, str]:
    """The function's environment for the edge tests: API-key callers, the AK/SK in the
    environment; nothing upstream is reached by an unauthenticated request."""
    from tests.conftest import API_KEY, server_env

    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=base_url,
        CEC_APP_KEY=app_key,
        CEC_APP_SECRET=app_secret,
        GOOGLE_CLOUD_PROJECT="test-project",
        BODY_TIMEOUT_SECONDS="2",
        CEC_TIMEOUT_SECONDS="2",
    )
    return env
