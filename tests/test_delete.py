"""Deleting against the simulator: all, some or none deleted, and batching."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cec_sim import SimulatorControl
from function.cec.results import parse_delete_answer
from function.errors import UpstreamBadResponse
from tests.test_requests import assert_problem


def test_all_deleted_is_200_with_names_and_ids(post: Callable[..., Any], sim: SimulatorControl) -> None:
    response = post({"dnids": "1, 2"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "deleted"
    assert body["dnids"] == ["1", "2"]
    assert body["deleted"] == ["9911411", "99114111"]
    assert body["failed"] == []
    assert body["ids"] == ["1127983948544239618", "1127986019188238339"]
    assert body["batches"] == [
        {"dnids": ["1", "2"], "returnCode": "0", "description": "data delete success", "status": "deleted"}
    ]
    # Sent upstream as the API's string form, with the headers the reference requires.
    (call,) = sim.calls("delete")
    assert call["body"] == {"dnids": "1,2"}
    assert call["authorization"].startswith("Bearer ")
    assert call["appKey"] == "sim-app-key"
    assert {r["dnid"] for r in sim.routes()}.isdisjoint({1, 2})


def test_list_form_with_duplicates_is_sent_once_in_order(post: Callable[..., Any], sim: SimulatorControl) -> None:
    response = post({"dnids": [3, "1", 3, " 2 "]})
    assert response.status_code == 200
    assert response.get_json()["dnids"] == ["3", "1", "2"]
    assert sim.calls("delete")[0]["body"] == {"dnids": "3,1,2"}


@pytest.mark.parametrize("partial_code", ["0", "1"])
def test_partial_is_207_whatever_the_return_code(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None], partial_code: str
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")  # the API's own partial answer, not a lookup, decides
    sim.configure(partial_return_code=partial_code)
    response = post({"dnids": "5,6"})  # 5 is deletable, 6 is editable "2" (not deletable)
    assert response.status_code == 207
    body = response.get_json()
    assert body["status"] == "partial"
    assert body["deleted"] == ["4008001000"]
    assert body["failed"] == ["40080010002"]
    assert body["batches"][0]["status"] == "partial"
    assert body["batches"][0]["returnCode"] == partial_code


def test_nothing_deleted_is_422_with_the_api_description(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")  # sent without a lookup: the API refuses both
    response = post({"dnids": "6,7"})  # both protected
    assert response.status_code == 422
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["deleted"] == []
    assert body["failed"] == ["40080010002", "40080010003"]
    assert body["batches"][0]["description"] == "data delete failed"


def test_unknown_dnids_are_not_sent_and_already_absent(post: Callable[..., Any], sim: SimulatorControl) -> None:
    # The lookup before the delete reads the whole listing and does not find 9999.
    response = post({"dnids": "9999"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "deleted" and body["batches"] == [] and body["dnids"] == []
    assert body["results"] == [{"dnid": "9999", "outcome": "already_absent"}]
    assert body["notFound"] == [{"dnid": "9999"}]
    assert len(sim.calls("query")) == 2 and sim.calls("delete") == []  # 160 seeded routes, 100 per page


def test_unknown_dnids_are_already_absent_which_is_success(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    # Without the lookup first, the API's failure is checked by a lookup after it.
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    response = post({"dnids": "9999"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "deleted"
    assert body["batches"][0]["description"] == "data not exist"
    assert body["results"] == [{"dnid": "9999", "outcome": "already_absent"}]
    assert len(sim.calls("query")) == 2  # 160 seeded routes, 100 per page


def test_more_than_1000_dnids_go_in_batches_of_1000(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.add_routes(2500, start=100000)
    dnids = list(range(100000, 102500))
    response = post({"dnids": dnids})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [len(b["dnids"]) for b in body["batches"]] == [1000, 1000, 500]
    assert len(body["deleted"]) == 2500
    sent = [c["body"]["dnids"].split(",") for c in sim.calls("delete")]
    assert [len(s) for s in sent] == [1000, 1000, 500]
    assert [int(d) for batch in sent for d in batch] == dnids
    assert len(sim.calls("token")) == 1


def test_smaller_batch_size_setting(post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]) -> None:
    env(CEC_BATCH_SIZE="2")
    response = post({"dnids": "1,2,3,4,5"})
    assert response.status_code == 200
    assert [c["body"]["dnids"] for c in sim.calls("delete")] == ["1,2", "3,4", "5"]


def test_fault_after_a_deleting_batch_is_partial_not_an_error(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_BATCH_SIZE="2", CEC_MAX_RETRIES="0")
    # Rules are taken in order: the first call passes untouched, the second gets a 503.
    sim.inject({"stage": "delete", "times": 1, "afterAction": True}, {"stage": "delete", "times": 1, "status": 503})
    response = post({"dnids": "1,2,4,8,9"})
    assert response.status_code == 207
    body = response.get_json()
    assert body["status"] == "partial"
    assert [b["status"] for b in body["batches"]] == ["deleted", "error", "not_sent"]
    assert body["batches"][1]["description"].startswith("upstream_unavailable:")
    assert body["batches"][2]["dnids"] == ["9"]
    assert body["deleted"] == ["9911411", "99114111"]
    assert len(sim.calls("delete")) == 2  # the third batch was not sent


def test_fault_before_anything_was_deleted_is_the_problem(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_BATCH_SIZE="2", CEC_MAX_RETRIES="0")
    sim.inject({"stage": "delete", "times": 1, "status": 503})
    response = post({"dnids": "1,2,4"})
    assert response.status_code == 503
    assert response.get_json()["code"] == "upstream_unavailable"
    assert len(sim.calls("delete")) == 1


@pytest.mark.parametrize(
    ("body", "status", "deleted", "failed"),
    [
        ({"returnCode": "0", "data": {"name": "a,b", "id": "1,2", "content": "a,b"}}, "deleted", ["a", "b"], []),
        ({"returnCode": "7", "data": {"name": "a,b", "id": "", "content": "a,b"}}, "failed", [], ["a", "b"]),
        ({"returnCode": "0", "data": {"name": "a,b", "content": "Success:a,Failed:b"}}, "partial", ["a"], ["b"]),
        (
            {"returnCode": "9", "data": {"name": "a,b,c", "content": "Success:a,c,Failed:b"}},
            "partial",
            ["a", "c"],
            ["b"],
        ),
        ({"returnCode": "0", "data": {"content": "Success:,Failed:b"}}, "failed", [], ["b"]),
        ({"returnCode": "0", "data": {"content": "Success:a,b"}}, "deleted", ["a", "b"], []),
        ({"returnCode": "0"}, "deleted", [], []),
        ({"returnCode": "1", "description": "data not exist", "data": None}, "failed", [], []),
        ({"returnCode": 0, "data": {"name": "a", "content": "a"}}, "deleted", ["a"], []),
    ],
)
def test_parse_delete_answer(body: dict[str, Any], status: str, deleted: list[str], failed: list[str]) -> None:
    answer = parse_delete_answer(body)
    assert (answer.status, answer.deleted, answer.failed) == (status, deleted, failed)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "ok",
        {"description": "no code"},
        {"returnCode": ""},
        {"returnCode": "0", "data": []},
        {"returnCode": "0", "data": {"name": ["a"]}},
        {"returnCode": True},
    ],
)
def test_parse_delete_answer_rejects_wrong_shapes(body: Any) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_delete_answer(body)


@pytest.mark.parametrize("fault", [{"status": 500}, {"body": "html"}, {"drop": "reset"}], ids=["500", "html", "reset"])
def test_a_plain_dnids_batch_that_fails_after_acting_is_looked_up(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None], fault: dict[str, Any]
) -> None:
    # The API deleted, then its answer was lost: each route is accounted for by a lookup,
    # never assumed untouched (a retry could no longer tell: the routes are gone).
    env(CEC_LOOKUP_BEFORE_DELETE="false", CEC_MAX_RETRIES="0")
    sim.inject({"stage": "delete", "afterAction": True, **fault})
    response = post({"dnids": "1,2"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [(r["dnid"], r["outcome"]) for r in body["results"]] == [("1", "already_absent"), ("2", "already_absent")]
    assert all("no answer" in r["description"] for r in body["results"])
    assert body["notRestorable"] == ["1", "2"]
    assert sim.calls("query")


def test_a_plain_dnids_batch_that_failed_before_acting_is_the_problem(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None]
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    sim.inject({"stage": "delete", "status": 500})
    problem = assert_problem(post({"dnids": "1,2"}), 502, "upstream_rejected")
    assert "HTTP 500" in problem["detail"]
    assert len(sim.calls("query")) == 1  # looked: both routes are still there
    assert {1, 2} <= {r["dnid"] for r in sim.routes()}
