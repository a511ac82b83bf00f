"""The callers: each behaves like a workflow tool sending one logical request, with
retries, reruns and replay checks, and records every HTTP exchange."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.load.config import CANARY_API_KEY
from tests.load.mix import Job

# A workflow tool retries a bounded number of times; these bound one logical request.
MAX_ATTEMPTS = 10
MAX_RERUNS = 4
CALLER_BACKOFF_BASE = 0.1
CALLER_BACKOFF_CAP = 1.5
# A Retry-After above this is not waited out in full: it would only stretch the run,
# and the callers' behaviour (retrying later) is the same.
CALLER_RETRY_AFTER_CAP = 1.5
CLIENT_TIMEOUT_SECONDS = 40.0  # above REQUEST_BUDGET_SECONDS (25 s): the function answers first

# Outcomes that make a caller run the request again (with a new idempotency key; the
# function does not store such unsettled answers, so the old key would run again too).
RERUN_OUTCOMES = frozenset({"unknown", "not_sent", "failed"})


@dataclass
class Exchange:
    """One HTTP attempt and its answer."""

    job: int
    key: str
    purpose: str  # first | retry (same key) | rerun (new key) | replay-check
    status: int | None  # None: no HTTP answer at all
    error: str | None
    raw: bytes
    headers: dict[str, str]
    body: Any  # parsed JSON, None when the body is not JSON
    seconds: float

    @property
    def is_json(self) -> bool:
        content_type = self.headers.get("Content-Type", "")
        return self.body is not None and content_type.split(";")[0].strip().endswith("json")

    @property
    def code(self) -> str:
        """The problem's ``code``, or the result's ``status``; what the tables count."""
        if not isinstance(self.body, dict):
            return "(no JSON body)" if self.status is not None else f"(no answer: {self.error})"
        return str(self.body.get("code") or self.body.get("status") or "(neither code nor status)")

    @property
    def is_result(self) -> bool:
        return (
            self.status in (200, 207, 422)
            and isinstance(self.body, dict)
            and self.body.get("status") in ("deleted", "partial", "failed", "planned")
        )


@dataclass
class CallerReport:
    job: Job
    exchanges: list[Exchange] = field(default_factory=list)
    final: Exchange | None = None
    gave_up: str | None = None  # why the caller stopped without a usable answer
    replay_problem: str | None = None


class Callers:
    def __init__(self, url: str, deadline: float, rng_seed: int) -> None:
        self.url = url
        self.deadline = deadline
        self._local = threading.local()
        self._seed = rng_seed

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def send(self, job: Job, key: str, purpose: str, attempt: int, body: Any = None) -> Exchange:
        headers = {
            "X-API-Key": CANARY_API_KEY,
            "Idempotency-Key": key,
            "Content-Type": "application/json",
            "X-Request-Id": f"{key}.{attempt}",
        }
        started = time.monotonic()
        try:
            response = self._session().post(
                self.url + "/",
                data=json.dumps(job.body if body is None else body),
                headers=headers,
                timeout=CLIENT_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            self._local.session = None  # a broken connection is not reused
            return Exchange(job.index, key, purpose, None, type(exc).__name__, b"", {}, None, 0.0)
        try:
            body = response.json()
        except ValueError:
            body = None
        return Exchange(
            job.index,
            key,
            purpose,
            response.status_code,
            None,
            response.content,
            dict(response.headers),
            body,
            time.monotonic() - started,
        )

    def run(self, job: Job) -> CallerReport:
        """Behave like a workflow tool: retry what says it is retryable (same key, with
        backoff), run again what came back unverified (new key), stop otherwise."""
        report = CallerReport(job)
        rng = random.Random(self._seed * 100003 + job.index)
        key, purpose, reruns, retries_in_row = job.key, "first", 0, 0
        body: Any = job.body
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if time.monotonic() > self.deadline:
                report.gave_up = "the run's time limit"
                return report
            exchange = self.send(job, key, purpose, attempt, body)
            report.exchanges.append(exchange)
            wait: float | None = None
            if exchange.is_result:
                report.final = exchange
                if not needs_rerun(exchange.body) or reruns >= MAX_RERUNS:
                    self._check_replay(job, exchange, report)
                    return report
                reruns += 1
                key, purpose, retries_in_row = f"{job.key}-r{reruns}", "rerun", 0
                body = rerun_body(job.body, exchange.body)
            elif isinstance(exchange.body, dict) and exchange.body.get("retryable") is False:
                report.final = exchange
                return report
            else:
                # Retryable problem, no JSON body, or no answer at all: same key again.
                purpose = "retry"
                wait = retry_after(exchange)
            backoff = min(CALLER_BACKOFF_CAP, CALLER_BACKOFF_BASE * 2**retries_in_row)
            retries_in_row += 1
            time.sleep(wait if wait is not None else rng.uniform(0, backoff))
        report.gave_up = f"{MAX_ATTEMPTS} attempts"
        return report

    def _check_replay(self, job: Job, final: Exchange, report: CallerReport) -> None:
        """The same key and body again must replay a settled answer byte for byte."""
        if not job.replay_check or job.kind.endswith("dry run") or not settled(final.body):
            return
        again = self.send(job, final.key, "replay-check", 0)
        report.exchanges.append(again)
        if again.status != final.status or again.raw != final.raw:
            report.replay_problem = f"replay answered {again.status} {again.code}, first {final.status} {final.code}"
        elif again.headers.get("Idempotent-Replayed") != "true":
            report.replay_problem = "replay without Idempotent-Replayed: true"


def settled(body: Any) -> bool:
    """What the function stores under an idempotency key: every batch answered, and no
    route left unknown or not sent (function/deletion/answers.py, Answer.settled)."""
    if not isinstance(body, dict) or body.get("status") == "planned":
        return isinstance(body, dict)
    if any(b.get("status") in ("error", "not_sent") for b in body.get("batches", [])):
        return False
    return not any(r.get("outcome") in ("unknown", "not_sent") for r in body.get("results") or [])


def rerun_body(request: Any, answer: dict[str, Any]) -> Any:
    """What a careful caller sends again. A routes selector cannot find a route that is
    gone, so the routes it left unverified are asked about by their record ids, which
    the answer gives for every route it looked up (README, "Answers")."""
    if not (isinstance(request, dict) and "routes" in request):
        return request
    ids = [r["id"] for r in answer.get("results") or [] if r.get("outcome") in RERUN_OUTCOMES and r.get("id")]
    return {"ids": ids} if ids else request


def needs_rerun(body: dict[str, Any]) -> bool:
    if body.get("status") == "planned":
        return False
    results = body.get("results")
    if results is None:
        return any(b.get("status") != "deleted" for b in body.get("batches", []))
    return any(r.get("outcome") in RERUN_OUTCOMES for r in results)


def retry_after(exchange: Exchange) -> float | None:
    value = exchange.headers.get("Retry-After", "")
    return min(CALLER_RETRY_AFTER_CAP, float(value)) if value.isdigit() else None
