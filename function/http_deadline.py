"""Wall-clock deadlines and a size cap for HTTP calls made through ``requests``.

``requests``' timeout bounds each socket operation, not the call: an upstream that
drips its answer one byte a second never trips a 3 s read timeout and holds the
request for minutes. Here every call runs inside :func:`deadline`; the connections
of a :class:`DeadlineAdapter` register with one watchdog thread per process, which
shuts the socket down when the call's deadline passes. The blocked read then fails
at once, whatever phase it is in (status line, headers or body), and the caller
sees :class:`CallExpired`. The adapter also caps the bytes of one answer (decoded),
so an upstream cannot cost unbounded memory either.

The watchdog is one thread for the whole process, holding only the calls in flight
(function/watchdog.py): a call costs a heap push and, mostly, no thread switch.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from function.watchdog import DeadlineWatchdog

# The largest answer read from an upstream. CEC pages of 100 records and answers
# naming 1000 routes are tens of KiB; a Secret Manager payload is at most 64 KiB.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class CallExpired(requests.exceptions.Timeout):
    """The call's wall-clock deadline passed before its answer was complete."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """The answer was larger than the adapter's cap."""


class _Call:
    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at
        self.fired = False
        self.done = False
        # Connections (whose socket is read when the deadline passes) and sockets.
        self.connections: list[Any] = []


class _Watchdog(DeadlineWatchdog[_Call]):
    """The calls in flight; a call's connections are shut down when its deadline passes."""

    def __init__(self) -> None:
        super().__init__("http-deadline-watchdog")

    def done(self, item: _Call) -> bool:
        return item.done

    def fire(self, item: _Call) -> None:
        item.fired = True
        for connection in item.connections:
            _shutdown(connection, item)

    def attach(self, call: _Call, connection: Any) -> None:
        with self.lock:
            if call.done or connection is None:
                return
            first = not call.connections
            call.connections.append(connection)
            if not isinstance(connection, socket.socket):
                # The pool may hand this connection to another call once this one is
                # done; only its current owner's deadline may shut it down.
                connection._deadline_owner = call
            if first:
                self.add(call.ends_at, call)
            if call.fired:
                _shutdown(connection, call)

    def finish(self, call: _Call) -> None:
        with self.lock:
            call.done = True
            call.connections.clear()
            # Calls mostly end in the order they began: dropping finished ones from the
            # front here keeps the heap near the number of calls in flight, although the
            # thread sleeps through them.
            self.prune()


def _shutdown(connection: Any, call: _Call) -> None:
    if isinstance(connection, socket.socket):
        sock: Any = connection  # dropped by its connection (Connection: close): never reused
    elif getattr(connection, "_deadline_owner", None) is call:
        sock = getattr(connection, "sock", None)
    else:
        return
    if sock is None:
        return
    # The plain socket's shutdown, also under TLS: it wakes the blocked reader
    # without touching the SSL object that thread is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_watchdog = _Watchdog()
_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[_Call]:
    """Run the HTTP calls in this block (this thread) under a ``seconds`` wall-clock bound.

    Raises CallExpired when the bound cut a call short, even where the cut looked
    like a complete answer (a body without Content-Length ends at the shutdown).
    """
    call = _Call(time.monotonic() + seconds)
    previous = getattr(_local, "call", None)
    _local.call = call
    try:
        yield call
    except requests.exceptions.RequestException as exc:
        if call.fired or time.monotonic() >= call.ends_at:
            raise CallExpired(f"no complete answer within {seconds:.1f} s") from exc
        raise
    finally:
        _local.call = previous
        _watchdog.finish(call)
    if call.fired:
        raise CallExpired(f"no complete answer within {seconds:.1f} s")


def expired() -> bool:
    """Whether the current call's deadline has cut it (for code that sees only a library error)."""
    call: _Call | None = getattr(_local, "call", None)
    return call is not None and call.fired


class _Watched:
    """A urllib3 connection that puts itself, then its socket, under the current call's deadline.

    The socket is registered once the request is sent: http.client drops the
    connection's reference to it (``sock = None``) when the answer says
    ``Connection: close``, while the answer's body is still being read from it.
    """

    def request(self, *args: Any, **kwargs: Any) -> Any:
        call: _Call | None = getattr(_local, "call", None)
        if call is not None:
            _watchdog.attach(call, self)
        result = super().request(*args, **kwargs)  # type: ignore[misc]
        if call is not None:
            _watchdog.attach(call, getattr(self, "sock", None))
        return result


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _CappedRaw:
    """The urllib3 response, with the decoded bytes it yields counted against a cap."""

    def __init__(self, raw: Any, cap: int) -> None:
        self._raw = raw
        self._cap = cap
        self._seen = 0

    def _count(self, data: bytes) -> bytes:
        self._seen += len(data)
        if self._seen > self._cap:
            self._raw.close()
            raise ResponseTooLarge(f"the answer is larger than {self._cap} bytes")
        return data

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            yield self._count(chunk)

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        return self._count(self._raw.read(amt if amt is not None else self._cap + 1, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections obey :func:`deadline` and whose answers are capped."""

    def __init__(self, *args: Any, max_response_bytes: int = MAX_RESPONSE_BYTES, **kwargs: Any) -> None:
        self.max_response_bytes = max_response_bytes
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        length = resp.headers.get("Content-Length", "")
        if length.strip().isdigit() and (len(length.strip()) > 12 or int(length) > self.max_response_bytes):
            resp.close()
            raise ResponseTooLarge(f"the answer declares {length.strip()[:16]} bytes")
        response = super().build_response(req, resp)
        response.raw = _CappedRaw(resp, self.max_response_bytes)
        return response
