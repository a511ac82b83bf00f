"""Outcome assignment on its own: names matched back to dnids, ambiguity resolved by lookups."""

from __future__ import annotations

from function.cec.lookup import RouteRecord, parse_record
from function.cec.results import BatchAnswer
from function.deletion.outcomes import RouteOutcome, assign


def record(dnid: str, access: str, ext: str, editable: str | None = "0") -> RouteRecord:
    return RouteRecord(f"11{dnid:0>17}", dnid, access, ext, 1, 1, "q", 5, editable)


R2 = record("2", "9911411", "1")  # named 99114111
R4 = record("4", "99114111", "")  # also named 99114111


def answer(status: str, deleted: list[str], failed: list[str], code: str = "0") -> BatchAnswer:
    return BatchAnswer(status, code, "desc", deleted, failed, [])  # type: ignore[arg-type]


def outcomes(result: dict[str, RouteOutcome]) -> dict[str, str]:
    return {dnid: o.outcome for dnid, o in result.items()}


def test_clean_answer_needs_no_lookup() -> None:
    got = assign(["2", "4"], answer("deleted", ["99114111", "99114111"], []), error=None, known={}, after=None)
    assert outcomes(got) == {"2": "deleted", "4": "deleted"}


def test_ambiguous_partial_is_resolved_by_what_still_exists() -> None:
    partial = answer("partial", ["99114111"], ["99114111"])
    known = {"2": R2, "4": R4}
    got = assign(["2", "4"], partial, error=None, known=known, after={"2": R2})
    assert outcomes(got) == {"2": "failed", "4": "deleted"}
    got = assign(["2", "4"], partial, error=None, known=known, after={"4": R4})
    assert outcomes(got) == {"2": "deleted", "4": "failed"}


def test_ambiguous_without_a_lookup_is_unknown_not_guessed() -> None:
    partial = answer("partial", ["99114111"], ["99114111"])
    got = assign(["2", "4"], partial, error=None, known={"2": R2, "4": R4}, after=None)
    assert outcomes(got) == {"2": "unknown", "4": "unknown"}


def test_unambiguous_names_match_without_a_lookup() -> None:
    r1 = record("1", "9911411", "")
    got = assign(
        ["1", "2"], answer("partial", ["9911411"], ["99114111"]), error=None, known={"1": r1, "2": R2}, after=None
    )
    assert outcomes(got) == {"1": "deleted", "2": "failed"}


def test_present_and_protected() -> None:
    locked = record("6", "4008001000", "2", editable="2")
    got = assign(["6"], answer("failed", [], ["40080010002"], code="1"), error=None, known={}, after={"6": locked})
    assert got["6"] == RouteOutcome("protected", "desc")


def test_absent_with_nothing_reported_deleted_is_already_absent() -> None:
    got = assign(["8", "9"], answer("failed", [], [], code="1"), error=None, known={}, after={})
    assert outcomes(got) == {"8": "already_absent", "9": "already_absent"}


def test_no_answer_then_gone_is_not_claimed() -> None:
    # It existed and is gone, but a concurrent request may have removed it.
    got = assign(["2"], None, error="upstream_timeout: ...", known={"2": R2}, after={})
    assert outcomes(got) == {"2": "already_absent"}
    got = assign(["2"], None, error="upstream_timeout: ...", known={}, after=None)
    assert outcomes(got) == {"2": "unknown"}


def test_not_sent() -> None:
    assert outcomes(assign(["1"], None, error=None, known={}, after=None)) == {"1": "not_sent"}


def test_records_tolerate_both_spellings_and_nulls() -> None:
    a = parse_record({"id": 1127983948544239618, "dnid": "7", "accessCode": "1", "extCode": None, "mediaTypeId": 5})
    b = parse_record({"id": "x", "dnid": 8, "accessCode": "1", "mediatypeId": None, "editable": None})
    assert a is not None and (a.dnid, a.ext_code, a.media_type_id, a.id) == ("7", "", 5, "1127983948544239618")
    assert b is not None and (b.media_type_id, b.editable, b.deletable) == (None, None, True)
    assert parse_record({"dnid": None}) is None and parse_record("x") is None and parse_record({"dnid": True}) is None


def test_no_answer_and_unknown_before_says_so() -> None:
    got = assign(["8"], None, error="upstream_timeout: ...", known={}, after={})
    assert got["8"].outcome == "already_absent"
    assert "no answer" in (got["8"].description or "")
