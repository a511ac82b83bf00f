"""The request body, read within a size and a time limit, whatever the caller sends.

Two things outside our code would otherwise read the body for us, unbounded:

- functions-framework's after-request hook (``read_request``) calls
  ``request.get_data()`` on every answer, which reads the whole rest of the body into
  memory and waits for it for as long as the client takes. Werkzeug's ``get_data``
  returns ``request._cached_data`` when it is set, so :func:`read_body` and
  :func:`settle` always set it: to the body we read, or to ``b""``.
- gunicorn ignores an application's ``Connection: close`` and, after the answer,
  drains what is left of the body (64 KiB at most, for up to 5 s) or lingers on the
  socket while closing it (2 s on its main thread). For a body that we will not read,
  we shut the socket's read side (``environ["gunicorn.socket"]``): on Linux every read,
  a blocked one too, then returns what the kernel already holds and then end-of-file
  at once, so neither gunicorn nor a stalled client can hold a thread any longer. The
  answer is still written, and the connection then closes.

A body that pauses for more than ``IDLE_SECONDS`` is given up by the socket's own
timeout; one that keeps dripping is given up at its deadline by one watchdog thread,
which shuts the read side the same way, so that the blocked read returns. Both get 408.
Under the Flask test client there is no socket and the body is already in memory.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from function.errors import BodyTimeout, MalformedBody, PayloadTooLarge

# A declared length of more digits than this is over any limit; int() of thousands
# of digits is slow or raises, so it is never called on one.
_MAX_LENGTH_DIGITS = 15
_TOO_LONG = 1_000_000_000_000_000  # 10**15, above any limit
# The longest pause between two pieces of a body before it is given up (408).
IDLE_SECONDS = 1.0
# How long the watchdog stays on a timer once it holds no live ticket (as
# function/http_deadline.py's): arming meanwhile, for a later deadline, wakes nothing.
LINGER_SECONDS = 1.0


def declared_length(environ: dict[str, Any]) -> int | None:
    """The Content-Length as an int, None when absent; never raises on odd values."""
    value = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        return None  # gunicorn rejects these before we run; the read limit still holds
    if len(value) > _MAX_LENGTH_DIGITS:
        return _TOO_LONG
    length: int = int(value)
    return length


def read_body(request: Any, *, limit: int, timeout_seconds: float) -> bytes:
    """At most ``limit`` bytes of the body, within ``timeout_seconds``, or a problem."""
    environ = request.environ
    declared = declared_length(environ)
    if declared is not None and declared > limit:
        _give_up(request)
        raise PayloadTooLarge(f"The body has {declared} bytes; at most {limit} (1 MiB) are accepted.")
    sock = environ.get("gunicorn.socket")
    ticket = None
    if isinstance(sock, socket.socket):
        ticket = _watchdog.arm(sock, timeout_seconds)
        # A silent client is given up sooner than a dripping one: each socket read
        # waits at most this long (the watchdog bounds the sum).
        sock.settimeout(min(IDLE_SECONDS, timeout_seconds))
    try:
        # One byte past the limit, so a chunked body without a length cannot make us
        # hold more than that.
        body: bytes = request.stream.read(limit + 1)
    except Exception as exc:  # noqa: BLE001 - gunicorn's framing errors have no common base
        _give_up(request)
        if (ticket is not None and ticket.fired) or isinstance(exc, TimeoutError):
            raise _timeout(timeout_seconds) from None
        raise MalformedBody(
            f"The body could not be read: its framing is broken ({type(exc).__name__}); "
            "send it with a correct Content-Length or valid chunked encoding."
        ) from None
    finally:
        if ticket is not None:
            _watchdog.disarm(ticket)
            _restore_blocking(sock)
    if ticket is not None and ticket.fired:
        _give_up(request)
        raise _timeout(timeout_seconds)
    if len(body) > limit:
        _give_up(request)
        raise PayloadTooLarge(f"The body is larger than {limit} bytes (1 MiB).")
    if declared is not None and len(body) < declared:
        _give_up(request)
        raise MalformedBody(f"The body ended after {len(body)} of its {declared} declared bytes.")
    request._cached_data = body
    return body


def settle(request: Any) -> None:
    """Before any answer: a body nobody read is neither drained into memory nor waited for."""
    if getattr(request, "_cached_data", None) is not None:
        return
    environ = request.environ
    has_body = (declared_length(environ) or 0) > 0 or bool(environ.get("HTTP_TRANSFER_ENCODING"))
    if has_body:
        _give_up(request)
    else:
        request._cached_data = b""


def _timeout(seconds: float) -> BodyTimeout:
    return BodyTimeout(
        f"The body did not arrive in time (a pause over {min(IDLE_SECONDS, seconds):g} s, or more than"
        f" {seconds:g} s in all); send it at once after the headers."
    )


def _restore_blocking(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.settimeout(None)  # as gunicorn keeps it between requests


def _give_up(request: Any) -> None:
    request._cached_data = b""
    sock = request.environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        _shut_read(sock)


def _shut_read(sock: socket.socket) -> None:
    # OSError: already closed or reset by the peer, so nothing is left to read anyway.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)


@dataclass(order=True)
class _Ticket:
    deadline: float
    seq: int
    sock: socket.socket | None = field(compare=False)
    fired: bool = field(default=False, compare=False)


class _Watchdog:
    """One daemon thread that cuts the read side of sockets whose deadline passed.

    One thread for the process rather than a timer per request: arming is a heap push,
    and it wakes the thread only for a deadline earlier than the thread's own next
    wake-up. A body is mostly read before the thread could look at its ticket, so
    waking it per request found nothing to do, at a thread switch and a GIL hand-off.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[_Ticket] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # inf: the thread waits for a notify

    def arm(self, sock: socket.socket, seconds: float) -> _Ticket:
        ticket = _Ticket(time.monotonic() + seconds, next(self._seq), sock)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="body-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, ticket)
            if ticket.deadline < self._wakes_at:
                self._cond.notify()
        return ticket

    def disarm(self, ticket: _Ticket) -> None:
        with self._cond:
            ticket.sock = None  # left in the heap; dropped when it comes up

    def _run(self) -> None:
        lingered = False
        while True:
            with self._cond:
                while self._heap and self._heap[0].sock is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    if lingered:  # a whole linger without a live ticket: sleep until notified
                        self._wakes_at = math.inf
                        self._cond.wait()
                        lingered = False
                    else:
                        self._wakes_at = time.monotonic() + LINGER_SECONDS
                        self._cond.wait(LINGER_SECONDS)
                        lingered = True
                    continue
                lingered = False
                first = self._heap[0]
                self._wakes_at = first.deadline
                wait = first.deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                first.fired = True
                # Under the lock, so that a ticket disarmed meanwhile is never cut:
                # its socket may already serve the connection's next request.
                if first.sock is not None:
                    _shut_read(first.sock)


_watchdog = _Watchdog()
