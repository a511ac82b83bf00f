"""Bounded reading of the numbers an upstream sends: one place, used for every one of them.

An upstream is not trusted to send sane numbers. ``float("9" * 400)`` is ``inf``,
``int("9" * 5000)`` raises, JSON's ``1e400`` parses as ``inf``; any of these used to
reach ``math.ceil`` or ``int()`` and crash a request. Every reader here takes its
bounds from the caller and answers ``None`` (or the bound, where clamping is the
honest reading) instead of raising.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Callable

# More digits than this cannot be a count, a time or an id that we use.
MAX_DIGITS = 18
_INTEGER = re.compile(rf"-?[0-9]{{1,{MAX_DIGITS}}}")
_DECIMAL = re.compile(rf"-?[0-9]{{1,{MAX_DIGITS}}}(?:\.[0-9]{{1,9}})?")
# An IMF-fixdate is 29 characters; the obsolete forms are no longer.
MAX_HTTP_DATE_CHARS = 64
# The longest Retry-After passed on to a caller: an upstream asking for more is
# still asked again within the hour (and a caller is never told to wait a day).
MAX_RETRY_AFTER_SECONDS = 3600.0
_DELTA_SECONDS = re.compile(r"[0-9]+")


def bounded_int(value: object, *, low: int, high: int) -> int | None:
    """An integer in ``[low, high]`` from a JSON integer or a string of ASCII digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            return None
        number = int(text)
    else:
        return None
    return number if low <= number <= high else None


def bounded_float(value: object, *, low: float, high: float) -> float | None:
    """A finite number in ``[low, high]`` from a JSON number or a decimal string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = float(value) if abs(value) < 10**MAX_DIGITS else math.inf
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            return None
        number = float(text)
    else:
        return None
    if not math.isfinite(number) or not low <= number <= high:
        return None
    return number


def clamp_seconds(value: float, *, high: float = MAX_RETRY_AFTER_SECONDS) -> float:
    """``value`` within ``[0, high]``; NaN is 0, infinity is ``high``."""
    if math.isnan(value):
        return 0.0
    return min(max(value, 0.0), high)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), clamped; else None.

    A delta that is too long to be meant (400 digits) is read as the longest wait
    we pass on, not as infinity; a date is read only when it is date-sized.
    """
    if not value:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        if len(text) > MAX_DIGITS:
            return MAX_RETRY_AFTER_SECONDS
        return clamp_seconds(float(int(text)))
    if len(text) > MAX_HTTP_DATE_CHARS:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    try:
        stamp = when.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return clamp_seconds(stamp - now())


def retry_after_header(seconds: float) -> str:
    """The Retry-After value we send: whole seconds, at least 1, at most the cap."""
    return str(max(1, math.ceil(clamp_seconds(seconds))))
