"""Selectors, dry runs, per-route outcomes and convergence, against the simulator.

The simulator's seed (cec_sim/store.py): dnids 1, 2, 3 are hotline 9911411 with
extensions "", "1", "11"; dnid 4 is access code 99114111 with no extension (the same
name, 99114111, as dnid 2); dnids 5, 6, 7 are 4008001000 with editable "1", "2", "3".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cec_sim import SimulatorControl
from tests.test_requests import assert_problem

HOTLINE = "9911411"


def test_preview_then_delete_a_hotline_in_two_calls(post: Callable[..., Any], sim: SimulatorControl) -> None:
    preview = post({"routes": [{"accessCode": HOTLINE}], "dryRun": True})
    assert preview.status_code == 200
    plan = preview.get_json()
    assert plan["status"] == "planned" and plan["dryRun"] is True
    assert plan["dnids"] == ["1", "2", "3"]  # 99114111 (dnid 4) is another access code
    first = plan["plan"][0]
    assert first == {
        "dnid": "1",
        "id": "1127983948544239618",
        "accessCode": HOTLINE,
        "extCode": "",
        "target": {"type": "skill_queue", "id": 1, "name": "defaultVideoSkill"},
        "editable": "0",
        "deletable": True,
    }  # mediaTypeId is null for this record, so it is absent
    assert plan["plan"][1]["mediaTypeId"] == 19
    assert plan["notFound"] == []
    assert sim.calls("delete") == []  # a dry run costs lookups only

    done = post({"routes": [{"accessCode": HOTLINE}]})
    assert done.status_code == 200
    body = done.get_json()
    assert body["status"] == "deleted"
    assert [(r["dnid"], r["extCode"], r["outcome"]) for r in body["results"]] == [
        ("1", "", "deleted"),
        ("2", "1", "deleted"),
        ("3", "11", "deleted"),
    ]
    assert [c["body"]["dnids"] for c in sim.calls("delete")] == ["1,2,3"]
    assert {r["dnid"] for r in sim.routes()} >= {4}


def test_ext_code_empty_means_the_bare_access_code(post: Callable[..., Any], sim: SimulatorControl) -> None:
    plan = post({"routes": [{"accessCode": HOTLINE, "extCode": ""}], "dryRun": True}).get_json()
    assert plan["dnids"] == ["1"]
    plan = post({"routes": [{"accessCode": HOTLINE, "extCode": "1"}], "dryRun": True}).get_json()
    assert plan["dnids"] == ["2"]  # the server's loose extCode filter is not trusted


def test_routes_that_match_nothing_are_reported(post: Callable[..., Any], sim: SimulatorControl) -> None:
    body = post({"routes": [{"accessCode": HOTLINE, "extCode": "9"}, {"accessCode": "123"}], "dryRun": True})
    assert body.get_json()["notFound"] == [{"accessCode": HOTLINE, "extCode": "9"}, {"accessCode": "123"}]


def test_protected_routes_are_never_sent(post: Callable[..., Any], sim: SimulatorControl) -> None:
    plan = post({"routes": [{"accessCode": "4008001000"}], "dryRun": True}).get_json()
    assert [(p["dnid"], p["deletable"]) for p in plan["plan"]] == [("5", True), ("6", False), ("7", False)]
    assert plan["dnids"] == ["5"]
    response = post({"routes": [{"accessCode": "4008001000"}]})
    assert response.status_code == 207
    outcomes = {r["dnid"]: r["outcome"] for r in response.get_json()["results"]}
    assert outcomes == {"5": "deleted", "6": "protected", "7": "protected"}
    assert [c["body"]["dnids"] for c in sim.calls("delete")] == ["5"]


def test_only_protected_routes_is_422_without_a_delete_call(post: Callable[..., Any], sim: SimulatorControl) -> None:
    response = post({"ids": ["1127986019188238342"]})
    assert response.status_code == 422
    assert response.get_json()["results"][0]["outcome"] == "protected"
    assert sim.calls("delete") == []


def test_ids_selector_with_an_unknown_id(post: Callable[..., Any], sim: SimulatorControl) -> None:
    response = post({"ids": ["1127986019188238339", "1999999999999999999"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["dnids"] == ["2"]
    assert body["results"] == [
        {"dnid": "2", "id": "1127986019188238339", "accessCode": HOTLINE, "extCode": "1", "outcome": "deleted"},
        {"id": "1999999999999999999", "outcome": "already_absent"},
    ]
    assert body["notFound"] == [{"id": "1999999999999999999"}]


def test_dnids_dry_run(post: Callable[..., Any], sim: SimulatorControl) -> None:
    plan = post({"dnids": "4,999", "dryRun": True}).get_json()
    assert [p["accessCode"] for p in plan["plan"]] == ["99114111"]
    assert plan["plan"][0]["target"] == {"type": "ivr", "id": 7, "name": "mainMenuIVR"}
    assert plan["notFound"] == [{"dnid": "999"}]
    assert sim.calls("delete") == []


def test_ambiguous_names_are_matched_back_by_lookup(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")  # the lookup after the answer tells them apart
    # dnid 2 (9911411 + "1") and dnid 4 (99114111 + "") are both named 99114111.
    sim.update_route(4, editable="2")
    response = post({"dnids": "2,4"})
    assert response.status_code == 207
    body = response.get_json()
    assert body["deleted"] == ["99114111"] and body["failed"] == ["99114111"]
    assert [(r["dnid"], r["outcome"]) for r in body["results"]] == [("2", "deleted"), ("4", "protected")]
    assert body["results"][1]["accessCode"] == "99114111"


def test_redelivery_after_success_is_200_already_absent(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    first = post({"dnids": "1,2"})
    assert first.status_code == 200 and "results" not in first.get_json()  # hot path: no lookup
    assert sim.calls("query") == []
    again = post({"dnids": "1,2"})
    assert again.status_code == 200
    assert [(r["dnid"], r["outcome"]) for r in again.get_json()["results"]] == [
        ("1", "already_absent"),
        ("2", "already_absent"),
    ]
    by_id = post({"ids": ["1127983948544239618"]})
    assert by_id.status_code == 200
    assert by_id.get_json()["results"] == [{"id": "1127983948544239618", "outcome": "already_absent"}]


def test_half_done_redelivery_by_dnids_is_success_and_says_what_is_known(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    assert post({"dnids": "1"}).status_code == 200
    response = post({"dnids": "1,3"})
    assert response.status_code == 200
    results = response.get_json()["results"]
    # Both are gone; the API named one deletion, and names of vanished routes cannot
    # be looked up, so which of the two it was is not knowable on the dnids path.
    assert [r["outcome"] for r in results] == ["already_absent", "already_absent"]
    assert "reported 1 of these 2 as deleted" in results[1]["description"]


def test_half_done_redelivery_by_route_knows_each_outcome(post: Callable[..., Any], sim: SimulatorControl) -> None:
    # With a selector the routes are looked up first, so each outcome is exact.
    assert post({"dnids": "1"}).status_code == 200
    response = post({"routes": [{"accessCode": HOTLINE}]})
    assert response.status_code == 200
    assert [(r["dnid"], r["outcome"]) for r in response.get_json()["results"]] == [("2", "deleted"), ("3", "deleted")]


def test_lookup_pages_past_100_records(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.add_routes(250, start=5000)  # 160 seeded + 250 = 410 records
    last_id = str(1140000000000000000 + 5249)
    plan = post({"ids": [last_id], "dryRun": True}).get_json()
    assert plan["dnids"] == ["5249"]
    # Pages after the first are fetched CEC_LOOKUP_CONCURRENCY at a time, in any order.
    offsets = sorted(c["body"]["offset"] for c in sim.calls("query"))
    assert offsets == [0, 100, 200, 300, 400]  # the documented pages only: offset = limit x (page - 1)
    assert all(c["body"]["limit"] == 100 for c in sim.calls("query"))


def test_lookup_stops_early_once_everything_is_found(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.add_routes(250, start=5000)
    post({"dnids": "2", "dryRun": True})
    assert len(sim.calls("query")) == 1


def test_lookup_is_bounded(post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]) -> None:
    env(CEC_MAX_LOOKUP_RECORDS="150")
    sim.add_routes(250, start=5000)
    problem = assert_problem(post({"ids": ["1999999999999999999"], "dryRun": True}), 422, "lookup_limit_exceeded")
    assert "CEC_MAX_LOOKUP_RECORDS" in problem["detail"]
    limits = [c["body"]["limit"] for c in sim.calls("query")]
    assert limits == [100]  # a second page of 100 would pass the 150 records allowed: not asked for


def test_selection_over_max_dnids_is_rejected_before_deleting(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(MAX_DNIDS="2")
    problem = assert_problem(post({"routes": [{"accessCode": HOTLINE}]}), 400, "invalid_request")
    assert "matches 3 routes" in problem["detail"]
    assert sim.calls("delete") == []


def test_failed_lookup_after_a_failed_delete_leaves_outcomes_unknown(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    sim.inject(
        {"stage": "delete", "returnCode": "9", "description": "system busy"},
        {"stage": "query", "status": 500, "times": 10},
    )
    response = post({"dnids": "1"}, headers={"Idempotency-Key": "unverified"})
    # Not "failed": that would promise the route still exists, which nobody checked.
    assert response.status_code == 207
    (result,) = response.get_json()["results"]
    assert result["outcome"] == "unknown" and "system busy" in result["description"]
    sim.clear_faults()
    again = post({"dnids": "1"}, headers={"Idempotency-Key": "unverified"})
    assert "Idempotent-Replayed" not in again.headers  # unverified answers are not replayed
    assert again.status_code == 200 and again.get_json()["status"] == "deleted"  # the retry converged


def test_selector_delete_whose_answer_is_lost_reports_what_is_gone(
    post: Callable[..., Any], sim: SimulatorControl
) -> None:
    # The API deletes, then its answer is garbled: a retry could no longer list these
    # routes (they are gone), so this answer must say what happened to each.
    sim.inject({"stage": "delete", "status": 200, "body": "html", "afterAction": True})
    response = post({"routes": [{"accessCode": HOTLINE}]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["batches"][0]["status"] == "error"
    # Gone, though this answer cannot prove it was this request that removed them.
    assert [(r["dnid"], r["outcome"]) for r in body["results"]] == [
        ("1", "already_absent"),
        ("2", "already_absent"),
        ("3", "already_absent"),
    ]
    assert "no answer" in body["results"][0]["description"]


def test_selector_delete_that_changed_nothing_is_the_problem(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.inject({"stage": "delete", "status": 503, "times": 3})
    response = post({"routes": [{"accessCode": HOTLINE}]})
    assert response.status_code == 503  # retryable, and every route is verifiably still there
    assert response.get_json()["code"] == "upstream_unavailable"
    assert len(sim.calls("query")) == 2  # the resolving lookup and the one that checked
