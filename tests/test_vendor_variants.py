"""Every deletion path against every CEC server the documentation allows, over real HTTP
to the real server process: the invariant holds on each.

The invariant: no route that still exists is ever reported ``deleted`` or
``already_absent``, and no route is gone without an audit record. Each personality of
the simulator (cec_sim/variants.py) is one plausible server; where the function cannot
work on one (a listing whose offsets or order cannot be trusted), it must say so rather
than guess. One simulator serves the whole module and one server process serves each
group of settings, so the matrix costs seconds per personality.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from cec_sim.variants import PERSONALITIES
from tests.conftest import API_KEY, CREDENTIALS_SECRET, server_env

SIGNING_KEY = "vendor-variants-signing-key-0123456789abcdef"
# Personalities whose listing cannot be read in full across pages: multi-page lookups
# must fail honestly there. On every other one, each path must also succeed.
UNREADABLE_LISTINGS = {"page-index", "unstable-order", "drifting-order"}
BULK_START = 5000  # 150 routes 5000..5149 (access codes 5000005000...): 310 records, 4 pages


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[SimulatorControl, FakeSecretManagerControl]]:
    cec, secret_manager = start_cec(), start_secret_manager()
    secrets = FakeSecretManagerControl(secret_manager.url)
    secrets.add_version(CREDENTIALS_SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    yield SimulatorControl(cec.url), secrets
    cec.stop()
    secret_manager.stop()


@pytest.fixture(scope="module")
def servers(
    upstream: tuple[SimulatorControl, FakeSecretManagerControl], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., FunctionServer]]:
    """``servers(**settings)``: the running server process for those settings, started once."""
    sim, secrets = upstream
    running: dict[tuple[tuple[str, str], ...], FunctionServer] = {}

    def get(instance: int = 0, **settings: str) -> FunctionServer:
        key = (("instance", str(instance)), *sorted(settings.items()))
        if key not in running:
            env = server_env(
                CALLER_AUTH="api_key",
                API_KEYS=API_KEY,
                CEC_BASE_URL=sim.base_url,
                CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
                SECRET_MANAGER_ENDPOINT=secrets.base_url,
                PLAN_SIGNING_KEYS=SIGNING_KEY,
                REQUEST_BUDGET_SECONDS="15",
                **settings,
            )
            log = tmp_path_factory.mktemp("server") / "server.log"
            running[key] = FunctionServer(env, log).start()
        return running[key]

    yield get
    for server in running.values():
        server.stop()


def _settings_for(personality: str, sim: SimulatorControl) -> dict[str, str]:
    """The function's settings a user would choose for that server (the probe recommends them)."""
    if personality == "app-key-rejected":
        return {"CEC_APP_KEY_HEADER": "omit"}
    if personality == "app-key-user-id":
        return {"CEC_APP_KEY_HEADER": "user-id:" + sim.config()["user_id"]}
    if personality == "token-port":
        return {"CEC_TOKEN_URL": sim.token_url()}
    return {}


def _post(server: FunctionServer, body: dict[str, Any]) -> requests.Response:
    response = requests.post(server.url, json=body, headers={"X-API-Key": API_KEY}, timeout=60)
    assert response.headers["Content-Type"].startswith(("application/json", "application/problem+json"))
    assert response.status_code < 500 or response.json()["retryable"] is True, response.text
    return response


def _claimed_gone(body: dict[str, Any]) -> set[int]:
    """The dnids an answer reports deleted or already_absent."""
    if body.get("status") not in ("deleted", "partial", "failed"):
        return set()
    results = body.get("results")
    if results is None:  # the clean path: every dnid sent was deleted
        return {int(d) for d in body["dnids"]} if body["status"] == "deleted" else set()
    return {int(r["dnid"]) for r in results if r["outcome"] in ("deleted", "already_absent") and r.get("dnid")}


def _audited_dnids(server: FunctionServer) -> set[int]:
    found: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("dnid"), str) and value["dnid"].isdigit():
                found.add(int(value["dnid"]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str) and item.isdigit():
                    found.add(int(item))  # notRestorable lists dnids
                walk(item)

    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and "called routes deleted" in line:
            walk(json.loads(line).get("audit"))
    return found


def _check_claims(sim: SimulatorControl, answers: list[dict[str, Any]]) -> None:
    existing = {route["dnid"] for route in sim.routes()}
    for body in answers:
        wrongly = _claimed_gone(body) & existing
        assert not wrongly, f"reported gone but still there: {sorted(wrongly)} in {body}"


def _check_audited(sim: SimulatorControl, servers: list[FunctionServer]) -> None:
    audited: set[int] = set()
    for server in servers:
        audited |= _audited_dnids(server)
    unaudited = set(sim.deleted()) - audited
    assert not unaudited, f"deleted without an audit record: {sorted(unaudited)}"


def _paths(server: FunctionServer, lookup_off: FunctionServer) -> Iterator[tuple[str, requests.Response]]:
    """Every deletion path once, each on routes of its own."""
    preview = _post(server, {"routes": [{"accessCode": "9911411"}], "dryRun": True})
    yield "dry run", preview
    if preview.status_code == 200 and "planToken" in preview.json():
        yield "planToken", _post(server, {"planToken": preview.json()["planToken"]})
    yield "routes", _post(server, {"routes": [{"accessCode": "4008001000"}, {"accessCode": "4008000012"}]})
    yield "ids", _post(server, {"ids": [str(1140000000000000000 + BULK_START + 120)]})  # on the third page
    yield "dnids", _post(server, {"dnids": [BULK_START + 130, BULK_START + 131, 99999, 20]})
    # Sent as they are: the API's own partial, failed and empty answers decide.
    yield "dnids, no lookup", _post(lookup_off, {"dnids": "21,22,8,6,99998"})
    yield "dnids, again", _post(lookup_off, {"dnids": "21,22"})


@pytest.mark.parametrize("personality", list(PERSONALITIES))
def test_the_invariant_holds_on_every_server_the_docs_allow(
    personality: str,
    upstream: tuple[SimulatorControl, FakeSecretManagerControl],
    servers: Callable[..., FunctionServer],
) -> None:
    sim, _ = upstream
    sim.reset()
    sim.personality(personality)
    sim.update_route(8, editable="2")  # a refused route in the no-lookup batch: a partial answer
    sim.add_routes(150, start=BULK_START)
    settings = _settings_for(personality, sim)
    server = servers(**settings)
    lookup_off = servers(**settings, CEC_LOOKUP_BEFORE_DELETE="false")
    answers: dict[str, requests.Response] = dict(_paths(server, lookup_off))
    _check_claims(sim, [r.json() for r in answers.values()])

    statuses = {path: r.status_code for path, r in answers.items()}
    if personality in UNREADABLE_LISTINGS:
        # A listing that cannot be read in full proves what it shows, never what it lacks:
        # a route seen exists (the ids path may succeed), a dnid never seen is unknown.
        assert statuses["ids"] in (200, 422, 502, 503), answers["ids"].text
        dnids = {r["dnid"]: r for r in answers["dnids"].json()["results"]}
        assert answers["dnids"].status_code == 207 and dnids["99999"]["outcome"] == "unknown"
        assert "99999" in answers["dnids"].json()["notRestorable"]
        _check_audited(sim, [server, lookup_off])
        return
    assert statuses == {
        "dry run": 200,
        "planToken": 200,
        "routes": 207,  # 4008001000's editable 2 and 3 routes are protected
        "ids": 200,
        "dnids": 200,
        "dnids, no lookup": 207,  # 8 and 6 refused by the API
        "dnids, again": 200,
    }, {path: r.text[:300] for path, r in answers.items()}
    assert answers["ids"].json()["results"][0]["outcome"] == "deleted"
    dnids = {r["dnid"]: r["outcome"] for r in answers["dnids"].json()["results"]}
    assert dnids == {"5130": "deleted", "5131": "deleted", "99999": "already_absent", "20": "deleted"}
    no_lookup = {r["dnid"]: r["outcome"] for r in answers["dnids, no lookup"].json()["results"]}
    # Gone, but without their records the API's two names cannot say which of the three
    # absent dnids it deleted: absent is proven, attribution is not claimed.
    assert no_lookup == {
        "21": "already_absent",
        "22": "already_absent",
        "8": "protected",
        "6": "protected",
        "99998": "already_absent",
    }
    again = answers["dnids, again"].json()
    assert {r["outcome"] for r in again.get("results", [])} <= {"already_absent"}
    _check_audited(sim, [server, lookup_off])


def test_two_instances_alternating_under_one_live_token_per_app(
    upstream: tuple[SimulatorControl, FakeSecretManagerControl], servers: Callable[..., FunctionServer]
) -> None:
    sim, _ = upstream
    sim.reset()
    sim.personality("single-token")
    first, second = servers(instance=1), servers(instance=2)
    statuses = []
    for server, dnid in zip(itertools.cycle([first, second]), range(30, 38), strict=False):
        statuses.append(_post(server, {"dnids": [dnid]}).status_code)
    assert statuses == [200] * 8
    assert len(sim.calls("token")) >= 8  # each instance's token was revoked by the other's
    _check_audited(sim, [first, second])


def test_the_app_key_header_follows_the_setting(
    upstream: tuple[SimulatorControl, FakeSecretManagerControl], servers: Callable[..., FunctionServer]
) -> None:
    sim, _ = upstream
    for personality, setting, expected in [
        ("app-key-rejected", "omit", None),
        ("app-key-user-id", "user-id:sim-user-1", "sim-user-1"),
        ("app-key-required", "app-key", DEFAULT_APP_KEY),
    ]:
        sim.reset()
        sim.personality(personality)
        server = servers(CEC_APP_KEY_HEADER=setting)
        assert _post(server, {"dnids": "40"}).status_code == 200
        assert {call["appKey"] for call in sim.calls() if call["stage"] != "token"} == {expected}
