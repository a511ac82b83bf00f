"""The simulator's variants and personalities, each seen over real HTTP with plain requests.

The seeded tenant has 160 routes, dnids 1..160 in dnid order; dnid 5 is deletable
(editable "1"), 6 and 7 are not (editable "2" and "3").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl, start_cec
from cec_sim.cec import API_PREFIX, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, TOKEN_PATH
from cec_sim.variants import PERSONALITIES, VARIANT_DEFAULTS
from tests.conftest import ROOT

APIG_TOKEN = {"error_code": "APIG.0307", "error_msg": "The token must be updated."}
APIG_THROTTLED = {"error_code": "APIG.0308", "error_msg": "The request is throttled."}
CREDENTIALS = {"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}


def token(sim: SimulatorControl, url: str | None = None) -> str:
    response = requests.post(url or sim.base_url + TOKEN_PATH, json=CREDENTIALS, timeout=5)
    assert response.status_code == 200, response.text
    access: str = response.json()["AccessToken"]
    return access


def call(
    sim: SimulatorControl, operation: str, body: dict[str, Any], bearer: str, app_key: str | None = DEFAULT_APP_KEY
) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"}
    if app_key is not None:
        headers["X-APP-Key"] = app_key
    return requests.post(sim.base_url + API_PREFIX + operation, json=body, headers=headers, timeout=5)


def dnids_at(sim: SimulatorControl, bearer: str, offset: int, limit: int = 100) -> list[int]:
    response = call(sim, "queryCalledRoute", {"offset": offset, "limit": limit}, bearer)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["total"] == 160
    return [r["dnid"] for r in data["calledRouteList"]]


def delete(sim: SimulatorControl, bearer: str, dnids: str) -> dict[str, Any]:
    response = call(sim, "deleteCalledRoute", {"dnids": dnids}, bearer)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


# Offsets


def test_documented_offsets_are_rounded_down_to_a_page(sim: SimulatorControl) -> None:
    bearer = token(sim)
    assert sim.config()["offset_mode"] == "page"
    assert dnids_at(sim, bearer, 0) == list(range(1, 101))
    assert dnids_at(sim, bearer, 90) == list(range(1, 101))  # not 91..160
    assert dnids_at(sim, bearer, 100) == list(range(101, 161))
    assert dnids_at(sim, bearer, 150, limit=50) == list(range(151, 161))
    assert dnids_at(sim, bearer, 149, limit=50) == list(range(101, 151))


def test_record_offsets_start_at_the_record(sim: SimulatorControl) -> None:
    sim.personality("record-offsets")
    bearer = token(sim)
    assert dnids_at(sim, bearer, 90) == list(range(91, 161))
    assert dnids_at(sim, bearer, 100) == list(range(101, 161))


def test_page_index_offsets_are_page_numbers(sim: SimulatorControl) -> None:
    sim.personality("page-index")
    bearer = token(sim)
    assert dnids_at(sim, bearer, 0) == list(range(1, 101))
    assert dnids_at(sim, bearer, 1) == list(range(1, 101))
    assert dnids_at(sim, bearer, 2) == list(range(101, 161))
    assert dnids_at(sim, bearer, 90) == []
    assert dnids_at(sim, bearer, 100) == []


# Order


def test_stable_order_repeats(sim: SimulatorControl) -> None:
    bearer = token(sim)
    assert dnids_at(sim, bearer, 0) == dnids_at(sim, bearer, 0) == list(range(1, 101))


def test_shuffled_order_changes_on_every_query(sim: SimulatorControl) -> None:
    sim.personality("unstable-order")
    bearer = token(sim)
    first, second = dnids_at(sim, bearer, 0), dnids_at(sim, bearer, 0)
    assert first != second
    assert first != sorted(first) or second != sorted(second)
    # Two pages read one after the other: some records twice, some never.
    both = dnids_at(sim, bearer, 0) + dnids_at(sim, bearer, 100)
    assert len(both) == 160 and len(set(both)) < 160


def test_rotating_order_turns_by_one_record_per_query(sim: SimulatorControl) -> None:
    sim.personality("drifting-order")
    bearer = token(sim)
    firsts = [dnids_at(sim, bearer, 0)[0] for _ in range(3)]
    assert firsts[1] == firsts[0] + 1 and firsts[2] == firsts[0] + 2
    page = dnids_at(sim, bearer, 0)
    assert page == list(range(page[0], page[0] + 100))


# Tokens


def test_multi_tokens_all_live(sim: SimulatorControl) -> None:
    first, second = token(sim), token(sim)
    assert call(sim, "queryCalledRoute", {}, first).status_code == 200
    assert call(sim, "queryCalledRoute", {}, second).status_code == 200


def test_single_token_revokes_the_older_ones(sim: SimulatorControl) -> None:
    sim.personality("single-token")
    first = token(sim)
    assert call(sim, "queryCalledRoute", {}, first).status_code == 200
    second = token(sim)
    revoked = call(sim, "queryCalledRoute", {}, first)
    assert revoked.status_code == 401 and revoked.json() == {"returnCode": "401", "description": "token expired"}
    assert call(sim, "queryCalledRoute", {}, second).status_code == 200


@pytest.mark.parametrize(("personality", "status"), [("apig-expiry", 200), ("apig-expiry-401", 401)])
def test_apig_expiry_answers_an_apig_body(sim: SimulatorControl, personality: str, status: int) -> None:
    sim.personality(personality, token_lifetime=60)
    bearer = token(sim)
    assert call(sim, "queryCalledRoute", {}, bearer).status_code == 200
    sim.advance_clock(61)
    expired = call(sim, "queryCalledRoute", {}, bearer)
    assert expired.status_code == status and expired.json() == APIG_TOKEN


def test_apig_answers_a_revoked_token_too(sim: SimulatorControl) -> None:
    sim.personality("single-token", token_error="apig", token_error_status=403)
    first = token(sim)
    token(sim)
    revoked = call(sim, "queryCalledRoute", {}, first)
    assert revoked.status_code == 403 and revoked.json() == APIG_TOKEN


def test_an_unknown_token_is_an_authentication_failure(sim: SimulatorControl) -> None:
    answer = call(sim, "queryCalledRoute", {}, "never-issued")
    assert answer.status_code == 403 and answer.json()["returnCode"] == "403"


def test_an_apig_gateway_answers_an_unknown_token_as_one_to_renew(sim: SimulatorControl) -> None:
    sim.personality("apig-expiry")
    answer = call(sim, "queryCalledRoute", {}, "never-issued")
    assert answer.status_code == 200 and answer.json() == APIG_TOKEN


# Throttling


@pytest.mark.parametrize(("personality", "status"), [("throttled", 429), ("throttled-200", 200)])
def test_every_third_api_call_is_throttled_and_does_nothing(
    sim: SimulatorControl, personality: str, status: int
) -> None:
    sim.personality(personality)
    bearer = token(sim)
    token(sim)  # token calls are not counted
    assert call(sim, "queryCalledRoute", {}, bearer).json()["returnCode"] == "0"
    assert call(sim, "queryCalledRoute", {}, bearer).json()["returnCode"] == "0"
    throttled = call(sim, "deleteCalledRoute", {"dnids": "1"}, bearer)
    assert throttled.status_code == status and throttled.json() == APIG_THROTTLED
    assert sim.deleted() == []
    assert delete(sim, bearer, "1")["returnCode"] == "0"
    assert sim.deleted() == [1]


def test_no_throttling_by_default(sim: SimulatorControl) -> None:
    bearer = token(sim)
    answers = [call(sim, "queryCalledRoute", {}, bearer) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6


# Delete answers


@pytest.mark.parametrize(
    ("personality", "content"),
    [
        ("documented", "Success:4008001000,Failed:40080010002"),
        ("spaced-partial", "Success:4008001000, Failed:40080010002"),
        ("lower-partial", "success:4008001000,failed:40080010002"),
    ],
)
def test_partial_formats(sim: SimulatorControl, personality: str, content: str) -> None:
    sim.personality(personality)
    answer = delete(sim, token(sim), "5,6")
    assert answer["data"]["content"] == content
    assert answer["data"]["name"] == "4008001000,40080010002"
    assert sim.deleted() == [5]


def test_a_delete_of_nothing_fails_by_default(sim: SimulatorControl) -> None:
    assert delete(sim, token(sim), "9999") == {"returnCode": "1", "description": "data not exist"}


def test_empty_success_answers_success_for_nothing(sim: SimulatorControl) -> None:
    sim.personality("empty-success")
    assert delete(sim, token(sim), "9999,9998") == {"returnCode": "0", "description": "data delete success"}
    assert sim.deleted() == []


def test_refused_ids_are_left_out_of_data_id_by_default(sim: SimulatorControl) -> None:
    bearer = token(sim)
    ids = {r["dnid"]: r["id"] for r in sim.routes()}
    assert delete(sim, bearer, "6,7")["data"]["id"] == ""
    assert delete(sim, bearer, "5,6")["data"]["id"] == ids[5]


def test_refused_ids_listed_in_data_id(sim: SimulatorControl) -> None:
    sim.personality("refused-ids")
    bearer = token(sim)
    ids = {r["dnid"]: r["id"] for r in sim.routes()}
    all_failed = delete(sim, bearer, "6,7")
    assert all_failed["returnCode"] == "1" and all_failed["data"]["id"] == f"{ids[6]},{ids[7]}"
    partial = delete(sim, bearer, "5,6")
    assert partial["data"]["id"] == f"{ids[5]},{ids[6]}"
    assert sim.deleted() == [5]


# X-APP-Key


@pytest.mark.parametrize(
    ("mode", "with_key", "without", "wrong", "user_id"),
    [
        ("optional", 200, 200, 403, 403),
        ("required", 200, 403, 403, 403),
        ("ignored", 200, 200, 200, 200),
        ("rejected", 403, 200, 403, 403),
        ("user_id", 403, 403, 403, 200),
    ],
)
def test_app_key_header_modes(
    sim: SimulatorControl, mode: str, with_key: int, without: int, wrong: int, user_id: int
) -> None:
    sim.configure(app_key_header=mode)
    bearer = token(sim)
    statuses = [
        call(sim, "queryCalledRoute", {}, bearer, app_key=value).status_code
        for value in (DEFAULT_APP_KEY, None, "someone-else", "sim-user-1")
    ]
    assert statuses == [with_key, without, wrong, user_id]


@pytest.mark.parametrize(
    ("personality", "mode"),
    [
        ("app-key-required", "required"),
        ("app-key-rejected", "rejected"),
        ("app-key-user-id", "user_id"),
        ("app-key-ignored", "ignored"),
    ],
)
def test_app_key_personalities(sim: SimulatorControl, personality: str, mode: str) -> None:
    sim.personality(personality)
    assert sim.config()["app_key_header"] == mode


# The token URL


def test_token_port_variant_serves_tokens_on_the_second_listener_only(sim: SimulatorControl) -> None:
    second = sim.token_url()
    assert second.endswith(TOKEN_PATH) and not second.startswith(sim.base_url + "/")
    sim.personality("token-port")
    main = requests.post(sim.base_url + TOKEN_PATH, json=CREDENTIALS, timeout=5)
    assert main.status_code == 404
    bearer = token(sim, second)
    assert call(sim, "queryCalledRoute", {}, bearer).status_code == 200
    # The second listener serves nothing but the token.
    other = requests.post(second.replace(TOKEN_PATH, API_PREFIX + "queryCalledRoute"), json={}, timeout=5)
    assert other.status_code == 404


def test_both_token_urls_work_by_default(sim: SimulatorControl) -> None:
    assert token(sim) and token(sim, sim.token_url())


# Personalities and the control API


@pytest.mark.parametrize("name", list(PERSONALITIES))
def test_each_personality_sets_its_variants_and_resets_the_others(sim: SimulatorControl, name: str) -> None:
    sim.configure(offset_mode="record", order="rotating", throttle_every=7, app_key_header="rejected")
    sim.personality(name)
    config = sim.config()
    assert config["personality"] == name
    assert {k: config[k] for k in VARIANT_DEFAULTS} == {**VARIANT_DEFAULTS, **PERSONALITIES[name][1]}


def test_a_variant_set_alone_makes_a_custom_personality(sim: SimulatorControl) -> None:
    sim.personality("throttled", offset_mode="record")
    config = sim.config()
    assert config["personality"] == "custom"
    assert (config["throttle_every"], config["offset_mode"]) == (3, "record")
    sim.configure(latency=0.0)  # not a variant: the personality's name stays
    assert sim.config()["personality"] == "custom"


def test_reset_restores_the_documented_defaults(sim: SimulatorControl) -> None:
    sim.personality("page-index")
    sim.reset()
    config = sim.config()
    assert config["personality"] == "documented" and config["offset_mode"] == "page"


@pytest.mark.parametrize(
    "body",
    [{"personality": "nope"}, {"offset_mode": "pages"}, {"throttle_every": -1}, {"empty_success": "yes"}, {"x": 1}],
)
def test_bad_config_is_refused_and_changes_nothing(sim: SimulatorControl, body: dict[str, Any]) -> None:
    response = requests.post(sim.base_url + "/_sim/config", json=body, timeout=5)
    assert response.status_code == 400 and response.json()["error"]
    assert sim.config()["personality"] == "documented"


def test_a_start_personality_survives_reset() -> None:
    server = start_cec(personality="record-offsets")
    try:
        control = SimulatorControl(server.url)
        control.personality("throttled")
        control.reset()
        assert control.config()["offset_mode"] == "record" and control.config()["throttle_every"] == 0
    finally:
        server.stop()


def test_the_command_line_lists_and_applies_personalities() -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "cec_sim", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    for name, (line, _) in PERSONALITIES.items():
        assert f"{name}  " in helped.stdout and line in helped.stdout
    process = subprocess.Popen(
        [sys.executable, "-m", "cec_sim", "--cec-port", "0", "--secrets-port", "0", "--personality", "single-token"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        control = SimulatorControl(urls["cec"])
        assert urls["cecToken"] == control.token_url()
        control.reset()
        assert control.config()["token_mode"] == "single"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_the_docs_page_names_every_personality_and_variant() -> None:
    page = (ROOT / "docs" / "CEC_API.md").read_text()
    for name in PERSONALITIES:
        assert f"`{name}`" in page, name
    for field in VARIANT_DEFAULTS:
        assert f"`{field}`" in page, field
