"""Fuzzing the real server from its own OpenAPI document with schemathesis.

The function runs as the functions-framework server process (gunicorn, no --debug),
as Cloud Functions starts it, with its own simulator and fake Secret Manager behind it
on loopback. Upstream is healthy and keeps its routes (``keep_routes``), so every
generated deletion has something to act on and any 5xx is a bug of the function, not
an injected fault.

Cases per run: ``FUZZ_CASES`` (default 1000, which takes about 20-30 s on a 2-core
machine); ``FUZZ_CASES=10000`` for a deeper run. The budget is spent on schemathesis's
coverage phase (deterministic boundary and invalid values, unexpected methods and
media types), then on Hypothesis-generated positive and negative (schema-invalid)
cases, a few of them without or with a wrong API key so the 401 path is checked too.
Every answer must conform to the document: no 5xx, a documented status code, the
documented content type, headers and body schema.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import server_env

if os.environ.get("CI"):
    # In CI a missing schemathesis is a broken install, not a reason to skip the fuzz run.
    import schemathesis
else:
    schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (requirements-dev.txt)")

# Below the check above, so that without the package the module skips instead of erroring.
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

FUZZ_CASES = int(os.environ.get("FUZZ_CASES", "1000"))
FUZZ_KEY = "fuzz-caller-key-0123456789abcdef"
FUZZ_SECRET = "projects/fuzz/secrets/cec-credentials"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Mostly authenticated, so that generation reaches the body checks; a few without a
# key or with a wrong one, whose 401 answers must conform too.
CREDENTIALS = st.sampled_from([FUZZ_KEY] * 18 + [None, "not-the-key"])
# A case waits at most this long for its answer; the upstream is local and healthy.
CALL_TIMEOUT = 30
# Hypothesis sometimes stops short of max_examples (duplicates are not re-run); top up
# the count in at most this many extra rounds rather than loop unbounded.
MAX_ROUNDS = 4


@dataclass
class FuzzTarget:
    url: str
    log_path: Path
    sim: SimulatorControl


@dataclass
class Tally:
    """What was sent and what came back, printed at the end of the run."""

    cases: int = 0
    by_phase: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    # Servers of its own (not the session ones the other tests reset and reconfigure),
    # so that keep_routes and the long call record stay out of their way.
    cec = start_cec()
    secret_manager = start_secret_manager()
    sim = SimulatorControl(cec.url)
    sim.configure(keep_routes=True)
    secrets = FakeSecretManagerControl(secret_manager.url)
    secrets.add_version(FUZZ_SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))

    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=FUZZ_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_SECRET=FUZZ_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
        # Generated planTokens must meet a verifier (400 plan_invalid), not 503 not_configured.
        PLAN_SIGNING_KEYS="fuzz-plan-signing-key-0123456789abcdef",
    )
    try:
        with FunctionServer(env, tmp_path_factory.mktemp("fuzz") / "server.log") as server:
            yield FuzzTarget(server.url, server.log_path, sim)
    finally:
        cec.stop()
        secret_manager.stop()


def _send(
    case: Case[Any], target: FuzzTarget, session: requests.Session, key: str | None, tally: Tally, phase: str
) -> None:
    headers = {"X-API-Key": key} if key else {}
    response = case.call(base_url=target.url, session=session, headers=headers, timeout=CALL_TIMEOUT)
    tally.cases += 1
    tally.by_phase[phase] += 1
    tally.by_status[response.status_code] += 1
    if response.status_code == 413:
        # A body refused before it has all arrived leaves the rest of it on the
        # connection, and gunicorn still announces keep-alive: a client that reuses the
        # connection at once may get gunicorn's own HTML 400 for those bytes, or a closed
        # connection (docs/SECURITY.md, known limits). Behind Cloud Run's front end no
        # caller shares our connections; here the fuzzer drops its own.
        session.close()
    # Raises with schemathesis's report (and a curl line to reproduce) on any violation.
    case.validate_response(response, checks=CHECKS, headers=headers)


def _run_generated(
    strategy: Any, examples: int, send: Callable[[Case[Any], str | None], None], tally: Tally, phase: str
) -> None:
    target_count = tally.by_phase[phase] + examples
    for _ in range(MAX_ROUNDS):
        missing = target_count - tally.by_phase[phase]
        if missing <= 0:
            return

        @settings(
            max_examples=missing,
            deadline=None,  # no timed assertions: a slow answer is not a failure here
            phases=[Phase.reuse, Phase.generate, Phase.shrink],
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        )
        @given(case=strategy, key=CREDENTIALS)
        def run(case: Case[Any], key: str | None) -> None:
            send(case, key)

        run()


def test_fuzz_from_openapi(fuzz_target: FuzzTarget) -> None:
    schema = schemathesis.openapi.from_url(fuzz_target.url + "/openapi.json", timeout=CALL_TIMEOUT)
    deletions = [schema[path]["POST"] for path in ("/", "/preview", "/apply")]
    delete = deletions[0]
    session = requests.Session()
    tally = Tally()

    # 1. Coverage phase: deterministic edge values for every part of every operation,
    #    positive and negative, including methods and media types the document omits.
    #    (iter_coverage_cases is what schemathesis's own runner calls for this phase; its
    #    signature is that of the pinned version.)
    config = schema.config.generation_for(operation=delete)
    for path, method in (
        ("/", "POST"),
        ("/preview", "POST"),
        ("/apply", "POST"),
        ("/healthz", "GET"),
        ("/openapi.json", "GET"),
    ):
        operation = schema[path][method]
        for case in schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=config
        ):
            _send(case, fuzz_target, session, FUZZ_KEY, tally, "coverage")

    # 2. Generated cases for the operations with inputs (POST /, and its aliases
    #    /preview and /apply: half of the cases for /, a quarter for each alias), half
    #    schema-valid, half schema-invalid so that the 400 paths are reached with odd shapes.
    remaining = max(FUZZ_CASES - tally.cases, 8)

    def send(phase: str) -> Callable[[Case[Any], str | None], None]:
        return lambda case, key: _send(case, fuzz_target, session, key, tally, phase)

    shares = [remaining // 2, remaining // 4, remaining - remaining // 2 - remaining // 4]
    for operation, share in zip(deletions, shares, strict=True):
        positive = share // 2
        for mode, count in ((GenerationMode.POSITIVE, positive), (GenerationMode.NEGATIVE, share - positive)):
            _run_generated(operation.as_strategy(mode), count, send(mode.value), tally, mode.value)

    print(
        f"\nfuzz: {tally.cases} cases (FUZZ_CASES={FUZZ_CASES}); by phase {dict(tally.by_phase)};"
        f" by status {dict(sorted(tally.by_status.items()))}"
    )
    assert tally.cases >= FUZZ_CASES
    assert not [status for status in tally.by_status if status >= 500]
    assert tally.by_status[400] > 0  # the invalid-input paths were exercised
    assert any(200 <= status < 300 for status in tally.by_status)  # and so were deletions

    # The server's own log (unbuffered, each line written before its answer): no request
    # may have reached the catch-all, even one whose answer happened to conform.
    records = [json.loads(line) for line in fuzz_target.log_path.read_text().splitlines() if line.startswith("{")]
    assert not [r for r in records if r.get("severity") == "ERROR"]
