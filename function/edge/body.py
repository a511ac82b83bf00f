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
import socket
import time
from dataclasses import dataclass
from typing import Any

from function.errors import BodyTimeout, MalformedBody, PayloadTooLarge
from function.watchdog import DeadlineWatchdog

# A declared length of more digits than this is over any limit; int() of thousands
# of digits is slow or raises, so it is never called on one.
_MAX_LENGTH_DIGITS = 15
_TOO_LONG = 1_000_000_000_000_000  # 10**15, above any limit
# The longest pause between two pieces of a body before it is given up (408).
IDLE_SECONDS = 1.0


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


@dataclass
class _Ticket:
    sock: socket.socket | None
    fired: bool = False


class _Watchdog(DeadlineWatchdog[_Ticket]):
    """Cuts the read side of sockets whose body deadline passed (function/watchdog.py).

    A body is mostly read before the thread could look at its ticket: a ticket is
    disarmed in place and dropped when it comes up.
    """

    def __init__(self) -> None:
        super().__init__("body-watchdog")

    def done(self, item: _Ticket) -> bool:
        return item.sock is None

    def fire(self, item: _Ticket) -> None:
        item.fired = True
        # Under the lock, so that a ticket disarmed meanwhile is never cut: its socket
        # may already serve the connection's next request.
        if item.sock is not None:
            _shut_read(item.sock)

    def arm(self, sock: socket.socket, seconds: float) -> _Ticket:
        ticket = _Ticket(sock)
        with self.lock:
            self.add(time.monotonic() + seconds, ticket)
        return ticket

    def disarm(self, ticket: _Ticket) -> None:
        with self.lock:
            ticket.sock = None


_watchdog = _Watchdog()
