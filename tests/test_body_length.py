"""Content-Length as the function reads it: any string gives an int or None, never an
exception (gunicorn rejects most odd values first; this holds behind any server)."""

from __future__ import annotations

import pytest

from function.edge.body import declared_length


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (" 12 ", 12),
        ("0", 0),
        ("-1", None),
        ("1e3", None),
        ("\uff11\uff12", None),  # fullwidth digits: str.isdigit() says yes, int() would accept them
        ("\u0663", None),  # ARABIC-INDIC DIGIT THREE
        ("9" * 4301, 10**15),  # int() of this raises ValueError
        ("9" * 15, 10**15 - 1),
    ],
)
def test_declared_length_never_raises(value: str | None, expected: int | None) -> None:
    environ = {} if value is None else {"CONTENT_LENGTH": value}
    assert declared_length(environ) == expected
