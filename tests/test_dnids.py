"""The dnid parser on its own: examples, then properties over generated input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from function.dnids import DnidsInvalid, parse_dnids, to_api_form

dnid_ints = st.integers(min_value=1, max_value=10**12)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,2", ["1", "2"]),
        (" 1 , 2 ,3 ", ["1", "2", "3"]),
        ("3,1,3,2,1", ["3", "1", "2"]),
        ([1, "2", " 3 "], ["1", "2", "3"]),
        (["007", 7], ["7"]),
        ("10000", ["10000"]),
    ],
)
def test_accepted_forms_normalise(value: object, expected: list[str]) -> None:
    assert parse_dnids(value, 10000) == expected


@pytest.mark.parametrize(
    ("value", "pointer", "fragment"),
    [
        ("", "/dnids", "is empty"),
        ("   ", "/dnids", "is empty"),
        ([], "/dnids", "empty list"),
        ("1,,2", "/dnids", "item 2 of the comma-separated string is empty"),
        ("1,", "/dnids", "item 2 of the comma-separated string is empty"),
        ("-1", "/dnids", "not a positive decimal integer"),
        ("+1", "/dnids", "not a positive decimal integer"),
        ("1.5", "/dnids", "not a positive decimal integer"),
        ("0", "/dnids", "is 0"),
        ("١٢", "/dnids", "not a positive decimal integer"),  # Arabic-Indic digits
        ([1, 2.5], "/dnids/1", "fraction or exponent"),
        ([True], "/dnids/0", "a boolean"),
        ([None], "/dnids/0", "null"),
        ([[1]], "/dnids/0", "nested"),
        ([{"dnid": 1}], "/dnids/0", "nested"),
        ([-3], "/dnids/0", "not a positive decimal integer"),
        (5, "/dnids", "comma-separated string"),
        ({"a": 1}, "/dnids", "comma-separated string"),
        (None, "/dnids", "comma-separated string"),
        ("12345678901234567890", "/dnids", "20 digits"),
    ],
)
def test_rejects_with_pointer_and_reason(value: object, pointer: str, fragment: str) -> None:
    with pytest.raises(DnidsInvalid) as caught:
        parse_dnids(value, 10000)
    assert caught.value.errors[0].pointer == pointer
    assert fragment in caught.value.errors[0].detail


def test_nineteen_digits_is_called_an_id() -> None:
    with pytest.raises(DnidsInvalid) as caught:
        parse_dnids("1127983948544239618", 10000)
    detail = caught.value.errors[0].detail
    assert "called-route id, not a dnid" in detail
    assert "1127983948544239618" in detail


def test_every_bad_entry_is_reported() -> None:
    with pytest.raises(DnidsInvalid) as caught:
        parse_dnids([1, "x", 2, "", 3.0], 10000)
    assert [e.pointer for e in caught.value.errors] == ["/dnids/1", "/dnids/3", "/dnids/4"]


def test_limit_counts_distinct_dnids() -> None:
    assert len(parse_dnids([1, 2, 2, 3], 3)) == 3
    with pytest.raises(DnidsInvalid) as caught:
        parse_dnids([1, 2, 3, 4], 3)
    assert "at most 3" in caught.value.errors[0].detail


@given(st.lists(dnid_ints, min_size=1, max_size=50), st.sampled_from(["list", "string", "strings"]))
def test_round_trip_of_valid_input(values: list[int], form: str) -> None:
    expected = [str(v) for v in dict.fromkeys(values)]
    if form == "list":
        given_value: object = values
    elif form == "strings":
        given_value = [f" {v} " for v in values]
    else:
        given_value = " , ".join(str(v) for v in values)
    parsed = parse_dnids(given_value, 10000)
    assert parsed == expected
    assert parse_dnids(to_api_form(parsed), 10000) == parsed  # the wire form parses to itself


@given(st.lists(dnid_ints, min_size=1, max_size=10), st.text(min_size=1, max_size=5), st.integers(0, 10))
def test_any_non_digit_entry_is_rejected_never_crashes(values: list[int], junk: str, at: int) -> None:
    entries: list[object] = [str(v) for v in values]
    if junk.strip().isascii() and junk.strip().isdigit():
        junk = junk + "x"
    entries.insert(min(at, len(entries)), junk)
    with pytest.raises(DnidsInvalid) as caught:
        parse_dnids(entries, 10000)
    assert caught.value.errors and all(e.pointer.startswith("/dnids") for e in caught.value.errors)


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=8), st.lists, max_leaves=6))
def test_arbitrary_json_is_accepted_or_rejected_cleanly(value: object) -> None:
    try:
        parsed = parse_dnids(value, 10000)
    except DnidsInvalid as exc:
        assert exc.errors
    else:
        assert parsed and all(p.isdigit() and not p.startswith("0") for p in parsed)
