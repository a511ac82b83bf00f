"""function/edge/body.py's watchdog over real sockets (a socket pair, the client end
written by the test): a dripping body is cut at its deadline also when its read begins
while the watchdog lingers, and reading bodies back to back does not wake the watchdog
one by one. Under gunicorn the old watchdog woke in about one request in four at c=1
(0.24 voluntary switches of its thread per request against 0.04 now, bench/FINDINGS.md);
whether it does depends on when the thread gets the GIL, which this test cannot force,
so the count test guards the bound (a notify per arm would fail it) rather than
reproduce the old race."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from function.edge import body
from function.errors import BodyTimeout
from tests.test_http_deadline import voluntary_switches

MARGIN = 1.0


class _Request:
    """What read_body uses of gunicorn's request: the environ and the body stream."""

    def __init__(self, server_end: socket.socket, length: int, stream: Any = None) -> None:
        self.environ: dict[str, Any] = {"CONTENT_LENGTH": str(length), "gunicorn.socket": server_end}
        self.stream = stream if stream is not None else server_end.makefile("rb")
        self._cached_data: bytes | None = None


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server_end, client_end = socket.socketpair()
    yield server_end, client_end
    server_end.close()
    client_end.close()


def _read_whole(data: bytes, timeout_seconds: float) -> bytes:
    """A small body, as gunicorn holds it: read from the socket with the headers already."""
    server_end, client_end = socket.socketpair()
    try:
        request = _Request(server_end, len(data), stream=io.BytesIO(data))
        return body.read_body(request, limit=1024, timeout_seconds=timeout_seconds)
    finally:
        server_end.close()
        client_end.close()


def test_a_drip_that_begins_while_the_watchdog_lingers_is_cut_at_its_deadline(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body._watchdog, "linger_seconds", 30.0)
    assert _read_whole(b"{}", 0.2) == b"{}"  # its ticket is disarmed at once
    time.sleep(0.5)  # the watchdog woke at 0.2 s to no live ticket, and lingers on a 30 s timer
    server_end, client_end = pair
    stop = threading.Event()

    def drip() -> None:  # a byte every 0.3 s: under the 1 s pause limit, so only the deadline ends it
        while not stop.wait(0.3):
            try:
                client_end.send(b" ")
            except OSError:
                return

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    started = time.monotonic()
    try:
        with pytest.raises(BodyTimeout):
            body.read_body(_Request(server_end, 1000), limit=1024, timeout_seconds=0.8)
    finally:
        stop.set()
        dripper.join(timeout=5)
    assert time.monotonic() - started < 0.8 + MARGIN  # not held until the linger's end


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts context switches from Linux's /proc")
def test_bodies_read_back_to_back_do_not_wake_the_watchdog_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in test_http_deadline.py: no timer of the thread ends during the loop.
    monkeypatch.setattr(body._watchdog, "linger_seconds", 30.0)
    assert _read_whole(b"{}", 0.2) == b"{}"  # starts the thread if no test has yet
    time.sleep(0.5)  # it woke at 0.2 s to no live ticket, as between requests, and lingers
    thread = body._watchdog._thread
    assert thread is not None and thread.is_alive()
    before = voluntary_switches(thread)
    for _ in range(50):
        assert _read_whole(b'{"dnids": "1"}', 60.0) == b'{"dnids": "1"}'
        time.sleep(0.01)  # as a request waits for the CEC API: the watchdog could run now
    woken = voluntary_switches(thread) - before
    # A notify per arm would wake it 50 times or more.
    assert woken <= 5, woken
