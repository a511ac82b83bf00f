"""A fake Google Secret Manager speaking the REST API's AccessSecretVersion.

The real google-cloud-secret-manager client (REST transport) talks to it when
``SECRET_MANAGER_ENDPOINT=http://127.0.0.1:PORT``. Errors use Google's JSON error
shape so that the client raises its real exception classes (NotFound,
PermissionDenied, ServiceUnavailable ...). Control endpoints live under ``/_fake/``.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from cec_sim.faults import Fault, FaultBook
from cec_sim.httpbase import BaseHandler, Reply, Server, sleep_for

_ACCESS = re.compile(
    r"^/v1/(?P<secret>projects/[^/]+/(?:locations/[^/]+/)?secrets/[^/]+)/versions/(?P<version>[^/:]+):access$"
)
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class FakeSecretsState:
    # secret name (without /versions/...) -> list of payloads; version N is index N-1
    secrets: dict[str, list[bytes]] = field(default_factory=dict)
    faults: FaultBook = field(default_factory=FaultBook)
    latency: float = 0.0
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_version(self, secret: str, payload: bytes) -> int:
        with self.lock:
            versions = self.secrets.setdefault(secret, [])
            versions.append(payload)
            return len(versions)


def _error(status: int, message: str) -> Reply:
    return Reply(
        status, {"error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}}
    )


class SecretManagerHandler(BaseHandler):
    server_version = "fake-secret-manager/1.0"

    @property
    def state(self) -> FakeSecretsState:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?")[0]
        if path == "/_fake/calls":
            with self.state.lock:
                self.send(Reply(200, {"calls": list(self.state.calls)}))
            return
        match = _ACCESS.match(path)
        if not match:
            self.send(_error(404, f"unknown path {path}"))
            return
        with self.state.lock:
            self.state.calls.append(path)
        fault = self.state.faults.take("access")
        sleep_for(fault, self.state.latency)
        if fault is not None and fault.drip:
            self.drip_fault = fault
        if fault is not None and fault.status:
            self.send(_error(fault.status, fault.description))
            return
        if fault is not None and not fault.after_action:
            self.send_fault(fault, None)
            return
        self.send(self._access(match.group("secret"), match.group("version")))

    def _access(self, secret: str, version: str) -> Reply:
        with self.state.lock:
            versions = list(self.state.secrets.get(secret, []))
        if not versions:
            return _error(404, f"Secret [{secret}] not found or has no versions.")
        if version == "latest":
            number = len(versions)
        elif version.isdigit() and 1 <= int(version) <= len(versions):
            number = int(version)
        else:
            return _error(404, f"Secret Version [{secret}/versions/{version}] not found.")
        payload = versions[number - 1]
        return Reply(
            200,
            {
                "name": f"{secret}/versions/{number}",
                "payload": {"data": base64.b64encode(payload).decode("ascii")},
            },
        )

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?")[0] == "/_fake/faults":
            self.state.faults.clear()
            self.send(Reply(200, {"ok": True}))
        else:
            self.send(_error(404, f"unknown path {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        data: Any = self.read_json()
        data = data if isinstance(data, dict) else {}
        if path == "/_fake/secrets":
            number = self.state.add_version(str(data["secret"]), str(data["data"]).encode("utf-8"))
            self.send(Reply(200, {"version": number}))
        elif path == "/_fake/faults":
            for rule in data.get("rules", [data]):
                self.state.faults.add(Fault.from_json({"stage": "access", **rule}))
            self.send(Reply(200, {"ok": True}))
        elif path == "/_fake/config":
            self.state.latency = float(data.get("latency", self.state.latency))
            self.send(Reply(200, {"latency": self.state.latency}))
        elif path == "/_fake/reset":
            with self.state.lock:
                self.state.secrets.clear()
                self.state.calls.clear()
                self.state.latency = 0.0
            self.state.faults.clear()
            self.send(Reply(200, {"ok": True}))
        else:
            self.send(_error(404, f"unknown path {path}"))


def start_secret_manager(port: int = 0) -> Server:
    server = Server(SecretManagerHandler, port)
    server.httpd.state = FakeSecretsState()  # type: ignore[attr-defined]
    return server.start()
