"""A small threaded HTTP/1.1 server with the socket-level faults the tests need.

The standard library's server is used on purpose: dropping a connection before the
answer, resetting it, or cutting an answer short needs direct access to the socket.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cec_sim.faults import HTML_PAGE, Fault


class Reply:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


class BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle's algorithm and
    # delayed ACKs add 40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "cec-sim/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read the call log instead

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_json(self) -> Any:
        try:
            return json.loads(self.read_body() or b"null")
        except ValueError:
            return None

    # Set by a handler to answer its current request through drip().
    drip_fault: Fault | None = None

    def send(self, reply: Reply) -> None:
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        if self.drip_fault is not None:
            self.drip(reply, payload, self.drip_fault)
            return
        self.send_response(reply.status)
        content_type = reply.headers.pop("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Type", content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def drip(self, reply: Reply, payload: bytes, fault: Fault) -> None:
        """Write the whole answer (or only its body) one byte at a time, then close."""
        self.drip_fault = None
        self.close_connection = True
        headers = dict(reply.headers)
        content_type = headers.pop("Content-Type", "application/json;charset=UTF-8")
        lines = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(payload)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        slow = payload
        try:
            if fault.drip_body_only:
                self.wfile.write(head)
                self.wfile.flush()
            else:
                slow = head + payload
            stop = time.monotonic() + fault.drip_max_seconds
            for index in range(len(slow)):
                if time.monotonic() >= stop:
                    break
                self.wfile.write(slow[index : index + 1])
                self.wfile.flush()
                time.sleep(fault.drip)
        except OSError:
            pass  # the client gave up: what a drip is for

    def send_fault(self, fault: Fault, normal: Reply | None) -> None:
        """Answer as ``fault`` says; ``normal`` is the answer it spoils, if any."""
        if fault.drop == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.drop == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        status = fault.status or (normal.status if normal else 200)
        headers = dict(fault.headers)
        body: Any = normal.body if normal else {"returnCode": "0", "description": "ok"}
        raw: bytes | None = None
        if fault.json is not None:
            body = fault.json
        elif fault.return_code is not None:
            body = {"returnCode": fault.return_code, "description": fault.description}
        elif fault.body == "html":
            raw, headers["Content-Type"] = HTML_PAGE, "text/html"
        elif fault.body == "truncated":
            raw = json.dumps(body).encode()[:-7]
        elif fault.body == "wrong_shape":
            body = ["unexpected", {"shape": True}]
        elif fault.body == "empty":
            raw = b""
        elif fault.status and fault.status != 200 and normal is None:
            body = {"returnCode": str(fault.status), "description": fault.description}
        if fault.drop == "mid":
            payload = raw if raw is not None else json.dumps(body).encode()
            self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload) + 100))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        self.send(Reply(status, body, headers, raw))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) closes the socket under a slow answer:
        # expected in fault tests, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server:
    """Runs a handler class on 127.0.0.1 in a background thread."""

    def __init__(self, handler: type[BaseHandler], port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.httpd = _QuietServer((host, port), handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=handler.__name__, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.httpd.server_port}"

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sleep_for(fault: Fault | None, latency: float, sleep: Callable[[float], None] = time.sleep) -> None:
    total = latency + (fault.delay if fault else 0.0)
    if total > 0:
        sleep(total)
