"""The CEC simulator: tokenByAkSk, deleteCalledRoute, queryCalledRoute, createCalledRoute.

It behaves as ``shared/reference/cec-api.md`` documents, and where the reference says
"unknown" it picks one answer and makes it configurable, so that tests can cover
both (``partial_return_code``, ``expired_token_status``). Control endpoints under
``/_sim/`` let tests reset it, inject faults and read what it was sent.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from cec_sim.faults import Fault, FaultBook
from cec_sim.httpbase import BaseHandler, Reply, Server, sleep_for
from cec_sim.store import RouteStore

TOKEN_PATH = "/apigovernance/api/oauth/tokenByAkSk"
API_PREFIX = "/apiaccess/rest/cc-management/v1/calledRoute/"
MAX_DNIDS_PER_CALL = 1000

DEFAULT_APP_KEY = "sim-app-key"
DEFAULT_APP_SECRET = "sim-app-secret"


@dataclass
class SimConfig:
    app_key: str = DEFAULT_APP_KEY
    app_secret: str = DEFAULT_APP_SECRET
    latency: float = 0.0
    partial_return_code: str = "0"
    failed_return_code: str = "1"
    expired_token_status: int = 401
    # Tokens live as long as X-Token-Expire asks unless this overrides it.
    token_lifetime: int | None = None
    token_prefix: str = "sim-token-"
    # Benchmarks: report deletions but keep the routes, so every request finds them.
    keep_routes: bool = False
    # createCalledRoute hands out the lowest free dnid (the older CC-Gateway lets
    # callers reuse them): a deleted route's dnid can come back as another route.
    reuse_dnids: bool = False


@dataclass
class SimState:
    store: RouteStore = field(default_factory=RouteStore)
    faults: FaultBook = field(default_factory=FaultBook)
    config: SimConfig = field(default_factory=SimConfig)
    calls: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (app_key, expiry)
    clock_offset: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.tokens.clear()
            self.clock_offset = 0.0
            self.config = SimConfig()
        self.faults.clear()
        self.store.reset()

    def record(self, call: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(call)


def _envelope(code: str, description: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"returnCode": code, "description": description}
    if data is not None:
        body["data"] = data
    return body


class CecHandler(BaseHandler):
    server_version = "cec-sim/1.0"

    @property
    def state(self) -> SimState:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.startswith("/_sim/"):
            self.send(self._control("GET", None))
        else:
            self.send(Reply(404, _envelope("404", "path not found")))

    def do_DELETE(self) -> None:  # noqa: N802
        self.send(self._control("DELETE", None) if self.path.startswith("/_sim/") else Reply(405, {}))

    def do_POST(self) -> None:  # noqa: N802
        if self.path.startswith("/_sim/"):
            self.send(self._control("POST", self.read_json()))
            return
        raw = self.read_body()
        stage = self._stage()
        fault = self.state.faults.take(stage)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = {
            "stage": stage,
            "path": self.path,
            "body": body,
            "authorization": self.headers.get("Authorization"),
            "appKey": self.headers.get("X-APP-Key"),
            "tokenExpire": self.headers.get("X-Token-Expire"),
            "cookie": self.headers.get("Cookie"),
            "fault": fault is not None,
            "at": time.time(),
            "status": None,
        }
        # Recorded on arrival, so a caller that gave up waiting still sees the call.
        self.state.record(call)
        sleep_for(fault, self.state.config.latency)
        if fault is not None and fault.drip:
            self.drip_fault = fault
        if fault is not None and fault.echo_secrets:
            fault = replace(fault, description=fault.description + self._echoed(body))
        if fault is not None and not fault.after_action:
            call["status"] = fault.status
            self.send_fault(fault, None)
            return
        reply = self._operate(stage, body)
        if fault is not None and fault.echo_secrets and isinstance(reply.body, dict):
            reply.body["description"] = str(reply.body.get("description", "")) + self._echoed(body)
        call["status"] = fault.status if fault is not None and fault.status else reply.status
        if fault is not None:
            self.send_fault(fault, reply)
        else:
            self.send(reply)

    def _echoed(self, body: Any) -> str:
        """What a careless upstream quotes back: every secret this request carried."""
        cfg = self.state.config
        sent = body if isinstance(body, dict) else {}
        auth = self.headers.get("Authorization", "")
        return (
            f" (app_key={sent.get('app_key') or self.headers.get('X-APP-Key') or cfg.app_key},"
            f" app_secret={sent.get('app_secret') or cfg.app_secret},"
            f" token={auth.removeprefix('Bearer ')}, authorization={auth})"
        )

    def _stage(self) -> str:
        if self.path == TOKEN_PATH:
            return "token"
        if self.path.startswith(API_PREFIX):
            return self.path[len(API_PREFIX) :].removesuffix("CalledRoute") or "unknown"
        return "unknown"

    def _operate(self, stage: str, body: Any) -> Reply:
        if stage == "token":
            return self._token(body)
        if stage not in ("delete", "query", "create"):
            return Reply(404, _envelope("404", "path not found"))
        denied = self._check_token()
        if denied is not None:
            return denied
        if not isinstance(body, dict):
            return Reply(400, _envelope("400", "request body is not a JSON object"))
        if stage == "delete":
            return self._delete(body)
        if stage == "query":
            return self._query(body)
        return self._create(body)

    def _token(self, body: Any) -> Reply:
        cfg = self.state.config
        if not isinstance(body, dict) or body.get("app_key") != cfg.app_key or body.get("app_secret") != cfg.app_secret:
            return Reply(403, raw=b"Forbidden", headers={"Content-Type": "text/plain"})
        try:
            asked = int(self.headers.get("X-Token-Expire") or 600)
        except ValueError:
            asked = 600
        lifetime = cfg.token_lifetime or max(1, min(asked, 3600))
        token = cfg.token_prefix + secrets.token_hex(16)
        created = int(self.state.now())
        with self.state.lock:
            self.state.tokens[token] = (cfg.app_key, created + lifetime)
        return Reply(
            200,
            {
                "AccessToken": token,
                "ApplyType": "Bearer",
                "CreateTime": str(created),
                "Expires": str(lifetime),
                "Scope": "default",
                "AppKey": cfg.app_key,
                "UserID": "Anonymous",
            },
        )

    def _check_token(self) -> Reply | None:
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        with self.state.lock:
            entry = self.state.tokens.get(token)
        if entry is None:
            return Reply(403, _envelope("403", "authentication failed"))
        app_key, expiry = entry
        if self.headers.get("X-APP-Key") not in (None, app_key):
            return Reply(403, _envelope("403", "authentication failed"))
        if self.state.now() >= expiry:
            return Reply(self.state.config.expired_token_status, _envelope("401", "token expired"))
        return None

    def _delete(self, body: dict[str, Any]) -> Reply:
        dnids = body.get("dnids")
        if not isinstance(dnids, str) or not dnids.strip():
            return Reply(400, _envelope("400", "dnids is required"))
        parts = [p.strip() for p in dnids.split(",")]
        if len(parts) > MAX_DNIDS_PER_CALL:
            return Reply(200, _envelope("1", f"dnids exceeds {MAX_DNIDS_PER_CALL}"))
        numbers = [int(p) for p in parts if p.isdigit()]
        deleted, refused = self.state.store.delete(numbers, keep=self.state.config.keep_routes)
        cfg = self.state.config
        if not deleted and not refused:
            return Reply(200, _envelope(cfg.failed_return_code, "data not exist"))
        ok_names = ",".join(r.name for r in deleted)
        bad_names = ",".join(r.name for r in refused)
        if deleted and not refused:
            data = {"name": ok_names, "id": ",".join(r.id for r in deleted), "content": ok_names}
            return Reply(200, _envelope("0", "data delete success", data))
        if refused and not deleted:
            data = {"name": bad_names, "id": ",".join(r.id for r in refused), "content": bad_names}
            return Reply(200, _envelope(cfg.failed_return_code, "data delete failed", data))
        data = {
            "name": ",".join(filter(None, [ok_names, bad_names])),
            "id": ",".join(r.id for r in deleted),
            "content": f"Success:{ok_names},Failed:{bad_names}",
        }
        return Reply(200, _envelope(cfg.partial_return_code, "data partial delete success", data))

    def _query(self, body: dict[str, Any]) -> Reply:
        try:
            limit = int(body.get("limit", 100))
            offset = max(0, int(body.get("offset", 0)))
        except (TypeError, ValueError):
            return Reply(400, _envelope("400", "limit and offset must be integers"))
        limit = 100 if limit <= 0 or limit > 100 else limit
        total, routes = self.state.store.query(body, offset, limit)
        records = [r.as_record() for r in routes]
        return Reply(200, _envelope("0", "query success", {"total": total, "calledRouteList": records}))

    def _create(self, body: dict[str, Any]) -> Reply:
        """createCalledRoute as reference section 4 describes it: the answer has only
        returnCode and description, so the new dnid and id must be looked up."""
        access = body.get("accessCode")
        ext = body.get("extCode") if body.get("extCode") is not None else ""
        devicetype = body.get("devicetype")
        device_id = body.get("deviceId")
        media = body.get("mediaTypeId", 5)
        if not isinstance(access, str) or not access or len(access) > 32:
            return Reply(200, _envelope("1", "accessCode is invalid"))
        if not isinstance(ext, str) or len(ext) > 12:
            return Reply(200, _envelope("1", "extCode is invalid"))
        if devicetype not in (1, 3) or isinstance(devicetype, bool):
            return Reply(200, _envelope("1", "devicetype must be 1 (skill queue) or 3 (IVR)"))
        if not isinstance(device_id, int) or isinstance(device_id, bool):
            return Reply(200, _envelope("1", "deviceId is required"))
        if media is not None and (not isinstance(media, int) or isinstance(media, bool)):
            return Reply(200, _envelope("1", "mediaTypeId is invalid"))
        route = self.state.store.create(
            access, ext, devicetype, device_id, media, reuse_dnids=self.state.config.reuse_dnids
        )
        if route is None:
            return Reply(200, _envelope("1", "called route already exists"))
        return Reply(200, _envelope("0", "create success"))

    def _control(self, method: str, body: Any) -> Reply:
        state = self.state
        path = self.path.split("?")[0]
        data = body if isinstance(body, dict) else {}
        if path == "/_sim/reset" and method == "POST":
            state.reset()
            return Reply(200, {"ok": True})
        if path == "/_sim/faults":
            if method == "POST":
                for rule in data.get("rules", [data]):
                    state.faults.add(Fault.from_json(rule))
            elif method == "DELETE":
                state.faults.clear()
            return Reply(200, {"injected": state.faults.injected})
        if path == "/_sim/calls":
            if method == "DELETE":
                with state.lock:
                    state.calls.clear()
            with state.lock:
                return Reply(200, {"calls": list(state.calls)})
        if path == "/_sim/config" and method == "POST":
            for key, value in data.items():
                if key in SimConfig.__dataclass_fields__:
                    setattr(state.config, key, value)
            return Reply(200, {"config": vars(state.config)})
        if path == "/_sim/clock" and method == "POST":
            with state.lock:
                state.clock_offset += float(data.get("advance", 0))
            return Reply(200, {"offset": state.clock_offset})
        if path == "/_sim/routes":
            if method == "POST":
                added = state.store.add_many(
                    int(data.get("count", 0)), int(data.get("start", 100000)), data.get("accessCode")
                )
                return Reply(200, {"added": len(added)})
            return Reply(200, {"routes": [r.as_record() for r in state.store.all()]})
        if path == "/_sim/routes/update" and method == "POST":
            route = state.store.update(int(data.get("dnid", 0)), dict(data.get("changes", {})))
            return Reply(200 if route else 404, {"route": route.as_record() if route else None})
        if path == "/_sim/deleted":
            return Reply(200, {"deleted": list(state.store.deleted_log)})
        if path == "/_sim/tokens":
            with state.lock:
                return Reply(200, {"tokens": list(state.tokens)})
        return Reply(404, {"error": f"no control endpoint {method} {path}"})


def start_cec(port: int = 0) -> Server:
    """Start the simulator on 127.0.0.1:``port`` (0: any free port) in a thread."""
    server = Server(CecHandler, port)
    server.httpd.state = SimState()  # type: ignore[attr-defined]
    return server.start()
