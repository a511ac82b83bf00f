"""Parsers for the number selectors, ``dnids`` and ``ids``: every accepted spelling
becomes one list of unique strings.

Kept free of pydantic and Flask so that they can be tested on their own (property
tests in tests/test_dnids.py) and reused by the request model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# dnids are small configuration numbers; called-route record ids are 19-digit
# snowflake-style keys. Anything this long is an id pasted into the wrong field.
ID_LENGTH = 19
MAX_DNID_DIGITS = 18
# Record ids seen are 19 digits; allow some room either way, and call anything
# short a dnid, since that is what it almost surely is.
MIN_ID_DIGITS, MAX_ID_DIGITS = 12, 24
_SHOWN = 24
# What the OpenAPI patterns allow around an entry; str.strip() alone would also take
# Unicode separators that the document rejects.
JSON_WHITESPACE = " \t\n\r"


@dataclass(frozen=True)
class DnidError:
    """One bad entry: where it is (a JSON pointer) and what is wrong with it."""

    pointer: str
    detail: str


class DnidsInvalid(ValueError):
    def __init__(self, errors: list[DnidError]) -> None:
        super().__init__("; ".join(f"{e.pointer}: {e.detail}" for e in errors))
        self.errors = errors


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _check_digits(text: str, where: str) -> str | None:
    """The error for one trimmed entry, or None when it is a valid dnid."""
    if not text:
        return f"{where} is empty"
    if not (text.isascii() and text.isdigit()):
        return f"{where} ({_shown(text)}) is not a positive decimal integer"
    significant = text.lstrip("0") or "0"
    if len(significant) == ID_LENGTH:
        return (
            f"{where} ({text}) has 19 digits: that is a called-route id, not a dnid."
            " dnids are the small configuration numbers (1, 2, 3 ...) shown as dnid by"
            ' queryCalledRoute; to delete by record id, send it as "ids" instead'
        )
    if len(significant) > MAX_DNID_DIGITS:
        return f"{where} has {len(significant)} digits; a dnid is a small positive integer"
    if int(text) == 0:
        return f"{where} is 0; dnids start at 1"
    return None


def _canonical(text: str) -> str:
    # "007" and "7" are the same route; send the plain form upstream.
    return str(int(text))


def _kind(item: object) -> str | None:
    """Why a JSON list item cannot be a dnid by its type alone, or None."""
    if isinstance(item, bool):
        return "a boolean"
    if isinstance(item, (int, str)):
        return None
    if isinstance(item, float):
        return "a number with a fraction or exponent"
    if isinstance(item, (list, dict)):
        return "a nested list or object"
    if item is None:
        return "null"
    return type(item).__name__


def _check_id(text: str, where: str) -> str | None:
    """The error for one trimmed record id, or None when it looks like one."""
    if not text:
        return f"{where} is empty"
    if not (text.isascii() and text.isdigit()):
        return f"{where} ({_shown(text)}) is not a record id (a string of digits)"
    if len(text) < MIN_ID_DIGITS:
        return f'{where} ({text}) is too short for a record id: it looks like a dnid; send it as "dnids"'
    if len(text) > MAX_ID_DIGITS:
        return f"{where} has {len(text)} digits; record ids have 19"
    return None


def _entries(value: object, field: str, noun: str, example: str) -> list[tuple[str, str, object]]:
    """(JSON pointer, how to name it in a message, the item) for each entry."""
    pointer = f"/{field}"
    if isinstance(value, str):
        if not value.strip(JSON_WHITESPACE):
            raise DnidsInvalid([DnidError(pointer, f"is empty; give at least one {noun}")])
        return [
            (pointer, f"item {position} of the comma-separated string", raw)
            for position, raw in enumerate(value.split(","), start=1)
        ]
    if isinstance(value, list):
        if not value:
            raise DnidsInvalid([DnidError(pointer, f"is an empty list; give at least one {noun}")])
        return [(f"{pointer}/{index}", f"entry {index}", item) for index, item in enumerate(value)]
    raise DnidsInvalid([DnidError(pointer, f"must be a comma-separated string or a list of {noun}s ({example})")])


def parse_dnids(value: object, max_count: int) -> list[str]:
    """Normalise ``value`` to unique dnid strings in first-seen order.

    Accepts the API's own comma-separated string ("1, 2") or a JSON list of
    integers and digit strings. Raises DnidsInvalid listing every bad entry.
    """
    entries = _entries(value, "dnids", "dnid", '"1,2" or [1, 2]')
    return _parse(entries, "dnids", _check_digits, _canonical, max_count)


def parse_ids(value: object, max_count: int) -> list[str]:
    """Normalise ``value`` to unique record-id strings (digits) in first-seen order."""
    entries = _entries(value, "ids", "record id", '["1127983948544239618"]')
    return _parse(entries, "ids", _check_id, str, max_count)


def _parse(
    entries: list[tuple[str, str, object]],
    field: str,
    check: Callable[[str, str], str | None],
    canonical: Callable[[str], str],
    max_count: int,
) -> list[str]:
    errors: list[DnidError] = []
    seen: dict[str, None] = {}
    for pointer, where, item in entries:
        kind = _kind(item)
        if kind is not None:
            errors.append(DnidError(pointer, f"{where} is {kind}; give a positive integer or a digit string"))
        else:
            text = item.strip(JSON_WHITESPACE) if isinstance(item, str) else str(item)
            problem = check(text, where)
            if problem:
                errors.append(DnidError(pointer, problem))
            elif not errors:
                seen.setdefault(canonical(text), None)
        if len(errors) >= 20:
            break  # enough to fix; do not build a huge error document for a huge bad body

    if errors:
        raise DnidsInvalid(errors)
    if len(seen) > max_count:
        raise DnidsInvalid(
            [DnidError(f"/{field}", f"has {len(seen)} distinct entries; at most {max_count} per request (MAX_DNIDS)")]
        )
    return list(seen)


def to_api_form(dnids: list[str]) -> str:
    """The wire form deleteCalledRoute takes: one comma-separated string."""
    return ",".join(dnids)
