"""Outcome assignment on its own: names matched back to dnids, ambiguity resolved by lookups."""

from __future__ import annotations

import pytest

from function.cec.lookup import RouteRecord, parse_record
from function.cec.results import BatchAnswer, parse_delete_answer
from function.deletion.outcomes import RouteOutcome, assign, is_clean


def record(dnid: str, access: str, ext: str, editable: str | None = "0") -> RouteRecord:
    return RouteRecord(f"11{dnid:0>17}", dnid, access, ext, 1, 1, "q", 5, editable)


R2 = record("2", "9911411", "1")  # named 99114111
R4 = record("4", "99114111", "")  # also named 99114111


def answer(status: str, deleted: list[str], failed: list[str], code: str = "0", exact: bool = False) -> BatchAnswer:
    return BatchAnswer(status, code, "desc", deleted, failed, [], exact)  # type: ignore[arg-type]


def outcomes(result: dict[str, RouteOutcome]) -> dict[str, str]:
    return {dnid: o.outcome for dnid, o in result.items()}


def test_clean_answer_needs_no_lookup() -> None:
    clean = answer("deleted", ["99114111", "99114111"], [], exact=True)
    got = assign(["2", "4"], clean, error=None, known={}, present={}, proven=False)
    assert outcomes(got) == {"2": "deleted", "4": "deleted"}


def test_ambiguous_partial_is_resolved_by_what_still_exists() -> None:
    partial = answer("partial", ["99114111"], ["99114111"])
    known = {"2": R2, "4": R4}
    got = assign(["2", "4"], partial, error=None, known=known, present={"2": R2}, proven=True)
    assert outcomes(got) == {"2": "failed", "4": "deleted"}
    got = assign(["2", "4"], partial, error=None, known=known, present={"4": R4}, proven=True)
    assert outcomes(got) == {"2": "deleted", "4": "failed"}


def test_ambiguous_without_a_lookup_is_unknown_not_guessed() -> None:
    partial = answer("partial", ["99114111"], ["99114111"])
    got = assign(["2", "4"], partial, error=None, known={"2": R2, "4": R4}, present={}, proven=False)
    assert outcomes(got) == {"2": "unknown", "4": "unknown"}


def test_unambiguous_names_match_without_a_lookup() -> None:
    r1 = record("1", "9911411", "")
    got = assign(
        ["1", "2"],
        answer("partial", ["9911411"], ["99114111"]),
        error=None,
        known={"1": r1, "2": R2},
        present={},
        proven=False,
    )
    # Named as failed but not seen: it may be gone (a retried call answers "failed" for
    # what its first attempt deleted), so it is unknown, never taken at its word.
    assert outcomes(got) == {"1": "deleted", "2": "unknown"}


def test_present_and_protected() -> None:
    locked = record("6", "4008001000", "2", editable="2")
    got = assign(
        ["6"], answer("failed", [], ["40080010002"], code="1"), error=None, known={}, present={"6": locked}, proven=True
    )
    assert got["6"] == RouteOutcome("protected", "desc")


def test_absent_with_nothing_reported_deleted_is_already_absent() -> None:
    got = assign(["8", "9"], answer("failed", [], [], code="1"), error=None, known={}, present={}, proven=True)
    assert outcomes(got) == {"8": "already_absent", "9": "already_absent"}


def test_no_answer_then_gone_is_not_claimed() -> None:
    # It existed and is gone, but a concurrent request may have removed it.
    got = assign(["2"], None, error="upstream_timeout: ...", known={"2": R2}, present={}, proven=True)
    assert outcomes(got) == {"2": "already_absent"}
    got = assign(["2"], None, error="upstream_timeout: ...", known={}, present={}, proven=False)
    assert outcomes(got) == {"2": "unknown"}


def test_not_sent() -> None:
    assert outcomes(assign(["1"], None, error=None, known={}, present={}, proven=False)) == {"1": "not_sent"}


def test_records_tolerate_both_spellings_and_nulls() -> None:
    a = parse_record({"id": 1127983948544239618, "dnid": "7", "accessCode": "1", "extCode": None, "mediaTypeId": 5})
    b = parse_record({"id": "x", "dnid": 8, "accessCode": "1", "mediatypeId": None, "editable": None})
    assert a is not None and (a.dnid, a.ext_code, a.media_type_id, a.id) == ("7", "", 5, "1127983948544239618")
    assert b is not None and (b.media_type_id, b.editable, b.deletable) == (None, None, True)
    assert parse_record({"dnid": None}) is None and parse_record("x") is None and parse_record({"dnid": True}) is None


def test_no_answer_and_unknown_before_says_so() -> None:
    got = assign(["8"], None, error="upstream_timeout: ...", known={}, present={}, proven=True)
    assert got["8"].outcome == "already_absent"
    assert "no answer" in (got["8"].description or "")


def test_a_route_seen_after_a_call_without_an_answer_is_unknown() -> None:
    # The API may still act on the call after the lookup: not "failed", which is not audited.
    got = assign(
        ["2"], None, error="upstream_timeout", known={"2": R2}, present={"2": R2}, proven=True, may_still_act=True
    )
    assert outcomes(got) == {"2": "unknown"}


def test_a_route_seen_after_the_call_is_never_deleted_whatever_the_answer_says() -> None:
    # The lookup could not read the whole listing, but what it saw exists.
    got = assign(
        ["2"], answer("deleted", ["99114111"], []), error=None, known={"2": R2}, present={"2": R2}, proven=False
    )
    assert outcomes(got) == {"2": "failed"}


def test_names_that_do_not_match_the_routes_sent_are_not_clean() -> None:
    r1 = record("1", "9911411", "")
    # Two names for two dnids, but not theirs: a lookup settles it.
    wrong = answer("deleted", ["9911411", "12345"], [], exact=True)
    assert not is_clean(["1", "2"], wrong, {"1": r1, "2": R2})
    assert is_clean(["1", "2"], answer("deleted", ["99114111", "9911411"], [], exact=True), {"1": r1, "2": R2})
    # Fewer names than dnids, or an answer not in the documented all-deleted form.
    assert not is_clean(["1", "2"], answer("deleted", ["9911411"], [], exact=True), {})
    assert not is_clean(["1"], answer("deleted", ["9911411"], []), {"1": r1})
    # One record known, one not: the known one's name must be among those answered.
    assert not is_clean(["1", "7"], answer("deleted", ["777", "778"], [], exact=True), {"1": r1})
    assert is_clean(["1", "7"], answer("deleted", ["9911411", "778"], [], exact=True), {"1": r1})


@pytest.mark.parametrize(
    ("content", "deleted", "failed"),
    [
        ("Success:9911411,Failed:99114111", ["9911411"], ["99114111"]),
        ("Success:9911411, Failed:99114111", ["9911411"], ["99114111"]),
        ("success: 9911411 ,failed: 99114111", ["9911411"], ["99114111"]),
        ("SUCCESS:9911411;FAILED:99114111", ["9911411"], ["99114111"]),
        ("Success:,Failed:9911411,99114111", [], ["9911411", "99114111"]),
        ("Failed:99114111", [], ["99114111"]),
    ],
)
def test_partial_answers_are_read_in_any_case_and_spacing(content: str, deleted: list[str], failed: list[str]) -> None:
    body = {"returnCode": "0", "data": {"name": "9911411,99114111", "id": "", "content": content}}
    parsed = parse_delete_answer(body)
    assert (parsed.deleted, parsed.failed, parsed.exact) == (deleted, failed, False)


def test_only_the_documented_all_deleted_form_is_exact() -> None:
    documented = {"returnCode": "0", "data": {"name": "9911411,99114111", "id": "1,2", "content": "9911411,99114111"}}
    assert parse_delete_answer(documented).exact
    no_data = parse_delete_answer({"returnCode": "0", "description": "data delete success"})
    assert no_data.status == "deleted" and not no_data.exact and no_data.deleted == []
    failed = {"returnCode": "1", "data": {"name": "9911411", "id": "1", "content": "9911411"}}
    assert not parse_delete_answer(failed).exact
