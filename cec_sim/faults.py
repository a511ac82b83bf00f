"""Fault injection shared by the CEC simulator and the fake Secret Manager.

A rule says which calls it hits (``stage``), how often (``times``, ``probability``)
and what happens instead of, or after, the normal answer.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

Drop = Literal["close", "reset", "mid"]
BodyKind = Literal["json", "html", "truncated", "wrong_shape", "empty"]


@dataclass
class Fault:
    stage: str = "any"
    times: int | None = 1
    probability: float = 1.0
    status: int | None = None
    delay: float = 0.0
    body: BodyKind | None = None
    drop: Drop | None = None
    headers: dict[str, str] = field(default_factory=dict)
    return_code: str | None = None
    description: str = "injected failure"
    # Answer exactly this JSON body (with ``status``, default 200).
    json: Any = None
    # Apply the real operation first and spoil only its answer: the caller cannot
    # tell whether the operation happened.
    after_action: bool = False
    # Send the answer one byte every ``drip`` seconds (a slow or hostile upstream);
    # with ``drip_body_only`` the status line and headers go out at once. The real
    # operation happens first (``after_action`` unless told otherwise); the drip
    # stops when the client hangs up or after ``drip_max_seconds``.
    drip: float = 0.0
    drip_body_only: bool = False
    drip_max_seconds: float = 120.0
    # Quote the secrets the request carried (AK/SK, token, X-APP-Key) in the answer's
    # description, as an upstream that echoes its input would.
    echo_secrets: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "returnCode" in data:
            known["return_code"] = str(data["returnCode"])
        if "afterAction" in data:
            known["after_action"] = bool(data["afterAction"])
        elif data.get("drip"):
            known["after_action"] = True
        for camel, snake in (
            ("dripBodyOnly", "drip_body_only"),
            ("dripMaxSeconds", "drip_max_seconds"),
            ("echoSecrets", "echo_secrets"),
        ):
            if camel in data:
                known[snake] = data[camel]
        return cls(**known)


class FaultBook:
    def __init__(self, seed: int = 7) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._rng = random.Random(seed)
        self.injected = 0

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.injected = 0

    def take(self, stage: str) -> Fault | None:
        """The fault for this call, if any; counts down ``times``."""
        with self._lock:
            for rule in self._rules:
                if rule.stage not in ("any", stage):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                self.injected += 1
                return rule
            return None


HTML_PAGE = b"<html><head><title>418</title></head><body>Request blocked by firewall</body></html>"
