"""The CEC simulator: tokenByAkSk, deleteCalledRoute, queryCalledRoute, createCalledRoute.

It behaves as ``shared/reference/cec-api.md`` documents, read literally (offsets are
rounded down to a page), and where the reference says "unknown" it picks one answer and
makes it configurable, so that tests can cover every answer: the variants and named
personalities of ``cec_sim.variants``, plus ``partial_return_code`` and
``expired_token_status``. Control endpoints under ``/_sim/`` let tests reset it, switch
personalities, inject faults and read what it was sent.

``start_cec`` also opens a second listener that serves tokenByAkSk only (``token_url``):
with ``token_port_variant`` the main port answers 404 on the token path, as a tenant whose
token URL carries port 28070 does.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from cec_sim.faults import Fault, FaultBook
from cec_sim.httpbase import BaseHandler, Reply, Server, sleep_for
from cec_sim.store import Route, RouteStore
from cec_sim.variants import PERSONALITIES, VARIANT_DEFAULTS, invalid, personality_settings

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
    # The variants (cec_sim.variants): the defaults are the documented contract.
    personality: str = "documented"
    # page: an offset is rounded down to a multiple of limit; record: the page starts at
    # that record; page_index: the offset is a 1-based page number (0 and 1: the first).
    offset_mode: str = "page"
    # stable: dnid order; shuffled: a new random order per query; rotating: the listing
    # turns by one record per query.
    order: str = "stable"
    # multi: tokens live until they expire; single: a new token revokes the app's older ones.
    token_mode: str = "multi"
    # How an expired or revoked token is answered: status (expired_token_status with the
    # envelope) or apig (APIG.0307 body with token_error_status, for unknown tokens too).
    token_error: str = "status"
    token_error_status: int = 401
    # Every Nth query/delete/create call is throttled (APIG.0308, throttle_status); 0: never.
    throttle_every: int = 0
    throttle_status: int = 429
    # documented "Success:a,Failed:b"; spaced "Success:a, Failed:b"; lower "success:a,failed:b".
    partial_format: str = "documented"
    # A delete that deleted nothing answers returnCode "0" with no data.
    empty_success: bool = False
    # data.id also lists the refused records' ids (all-failed and partial answers).
    refused_ids_in_data: bool = False
    # optional: absent or the app key; required: the app key; ignored: anything;
    # rejected: absent only; user_id: must equal user_id.
    app_key_header: str = "optional"
    user_id: str = "sim-user-1"
    # tokenByAkSk is served only by the second listener; the main port answers 404 there.
    token_port_variant: bool = False


@dataclass
class SimState:
    store: RouteStore = field(default_factory=RouteStore)
    faults: FaultBook = field(default_factory=FaultBook)
    config: SimConfig = field(default_factory=SimConfig)
    calls: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (app_key, expiry)
    clock_offset: float = 0.0
    # Since the last reset: API calls (query/delete/create), which throttling counts, and
    # queries in a shuffled or rotating order, which pick the order.
    api_calls: int = 0
    queries: int = 0
    # Re-applied on every reset (python -m cec_sim --personality NAME).
    base_personality: str = "documented"
    # The second listener's tokenByAkSk URL, once started.
    token_url: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.tokens.clear()
            self.clock_offset = 0.0
            self.api_calls = 0
            self.queries = 0
            self.config = SimConfig()
            self.apply(personality=self.base_personality)
        self.faults.clear()
        self.store.reset()

    def apply(self, **settings: Any) -> str | None:
        """Set config fields; ``personality`` first resets every variant to that
        personality's value. Returns why nothing was changed, or None."""
        name = settings.pop("personality", None)
        if name is not None and name not in PERSONALITIES:
            return f"no personality {name!r}: one of {', '.join(PERSONALITIES)}"
        unknown = [key for key in settings if key not in SimConfig.__dataclass_fields__]
        if unknown:
            return f"no config field {', '.join(unknown)}"
        for key, value in settings.items():
            problem = invalid(key, value)
            if problem:
                return problem
        tuned = any(key in VARIANT_DEFAULTS for key in settings)
        if name is not None:
            settings = {**personality_settings(name), **settings}
        settings["personality"] = "custom" if tuned else name or self.config.personality
        for key, value in settings.items():
            setattr(self.config, key, value)
        return None

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
        token_only = getattr(self.server, "token_only", False)
        if stage == "token" and (token_only or not self.state.config.token_port_variant):
            return self._token(body)
        if token_only or stage not in ("delete", "query", "create"):
            return Reply(404, _envelope("404", "path not found"))
        throttled = self._throttle()
        if throttled is not None:
            return throttled
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
            if cfg.token_mode == "single":
                # Revoked: kept, so that it is answered as a token to renew, not an unknown one.
                for old, (app, _) in list(self.state.tokens.items()):
                    if app == cfg.app_key:
                        self.state.tokens[old] = (app, float("-inf"))
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
        cfg = self.state.config
        if entry is None:
            # An APIG gateway answers a token it does not know as one to renew (APIG.0307).
            return (
                self._token_refused()
                if cfg.token_error == "apig"
                else Reply(403, _envelope("403", "authentication failed"))
            )
        app_key, expiry = entry
        sent = self.headers.get("X-APP-Key")
        accepted = {
            "optional": sent in (None, app_key),
            "required": sent == app_key,
            "ignored": True,
            "rejected": sent is None,
            "user_id": sent == cfg.user_id,
        }[cfg.app_key_header]
        if not accepted:
            return Reply(403, _envelope("403", "authentication failed"))
        if self.state.now() >= expiry:
            return self._token_refused()
        return None

    def _token_refused(self) -> Reply:
        """An expired or revoked token (and, with token_error apig, an unknown one)."""
        cfg = self.state.config
        if cfg.token_error == "apig":
            body = {"error_code": "APIG.0307", "error_msg": "The token must be updated."}
            return Reply(cfg.token_error_status, body)
        return Reply(cfg.expired_token_status, _envelope("401", "token expired"))

    def _throttle(self) -> Reply | None:
        cfg = self.state.config
        with self.state.lock:
            self.state.api_calls += 1
            hit = cfg.throttle_every > 0 and self.state.api_calls % cfg.throttle_every == 0
        if not hit:
            return None
        return Reply(cfg.throttle_status, {"error_code": "APIG.0308", "error_msg": "The request is throttled."})

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
            if cfg.empty_success:
                return Reply(200, _envelope("0", "data delete success"))
            return Reply(200, _envelope(cfg.failed_return_code, "data not exist"))
        ok_names = ",".join(r.name for r in deleted)
        bad_names = ",".join(r.name for r in refused)
        ids = ",".join(r.id for r in deleted + (refused if cfg.refused_ids_in_data else []))
        if deleted and not refused:
            data = {"name": ok_names, "id": ids, "content": ok_names}
            return Reply(200, _envelope("0", "data delete success", data))
        if refused and not deleted:
            data = {"name": bad_names, "id": ids, "content": bad_names}
            return Reply(200, _envelope(cfg.failed_return_code, "data delete failed", data))
        success, failed, separator = {
            "documented": ("Success:", "Failed:", ","),
            "spaced": ("Success:", "Failed:", ", "),
            "lower": ("success:", "failed:", ","),
        }[cfg.partial_format]
        data = {
            "name": ",".join(filter(None, [ok_names, bad_names])),
            "id": ids,
            "content": f"{success}{ok_names}{separator}{failed}{bad_names}",
        }
        return Reply(200, _envelope(cfg.partial_return_code, "data partial delete success", data))

    def _query(self, body: dict[str, Any]) -> Reply:
        try:
            limit = int(body.get("limit", 100))
            offset = max(0, int(body.get("offset", 0)))
        except (TypeError, ValueError):
            return Reply(400, _envelope("400", "limit and offset must be integers"))
        limit = 100 if limit <= 0 or limit > 100 else limit
        start = {
            "page": offset - offset % limit,
            "record": offset,
            "page_index": max(offset - 1, 0) * limit,
        }[self.state.config.offset_mode]
        if self.state.config.order == "stable":
            total, routes = self.state.store.query(body, start, limit)
        else:
            listing = self._arranged(self.state.store.listing(body))
            total, routes = len(listing), listing[start : start + limit]
        records = [r.as_record() for r in routes]
        return Reply(200, _envelope("0", "query success", {"total": total, "calledRouteList": records}))

    def _arranged(self, listing: list[Route]) -> list[Route]:
        """The listing in a shuffled or rotating order, new on every query."""
        with self.state.lock:
            self.state.queries += 1
            turn = self.state.queries
        if self.state.config.order == "shuffled":
            listing = list(listing)
            random.Random(turn).shuffle(listing)
        elif listing:
            shift = turn % len(listing)
            listing = listing[shift:] + listing[:shift]
        return listing

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
            problem = state.apply(**data)
            if problem:
                return Reply(400, {"error": problem})
        if path == "/_sim/config" and method in ("GET", "POST"):
            return Reply(200, {"config": vars(state.config), "tokenUrl": state.token_url})
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


class CecServer(Server):
    """The simulator's main listener, with the token-only listener beside it."""

    def __init__(self, port: int, token_port: int, personality: str) -> None:
        super().__init__(CecHandler, port)
        self.token_server = Server(CecHandler, token_port)
        self.token_server.httpd.token_only = True  # type: ignore[attr-defined]
        state = SimState(base_personality=personality)
        state.token_url = self.token_server.url + TOKEN_PATH
        state.apply(personality=personality)
        self.httpd.state = self.token_server.httpd.state = state  # type: ignore[attr-defined]

    @property
    def state(self) -> SimState:
        return self.httpd.state  # type: ignore[attr-defined,no-any-return]

    @property
    def token_url(self) -> str:
        """tokenByAkSk on the second listener (for CEC_TOKEN_URL)."""
        return self.token_server.url + TOKEN_PATH

    def start(self) -> CecServer:
        self.token_server.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.token_server.stop()


def start_cec(port: int = 0, *, token_port: int = 0, personality: str = "documented") -> CecServer:
    """Start the simulator on 127.0.0.1:``port`` (0: any free port) in a thread, its
    token-only listener on ``token_port``, as ``personality`` (kept across resets)."""
    if personality not in PERSONALITIES:
        raise ValueError(f"no personality {personality!r}")
    return CecServer(port, token_port, personality).start()
