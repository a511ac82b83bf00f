"""The log formatter's shortcuts for the usual line (function/log.py): a plain ASCII
line skips the escaping pass, the second of ``time`` is formatted once per second,
and event() builds its record without looking up the caller; the lines are the same."""

from __future__ import annotations

import json
import logging
import time

import pytest

from function import log
from tests.test_log_format import _format


def test_an_ascii_line_with_del_is_still_escaped() -> None:
    line = _format("a\x7fb")
    assert "\x7f" not in line
    assert json.loads(line)["message"] == "a\x7fb"


def test_the_time_is_the_records_own_across_seconds() -> None:
    for created in (1764590399.998, 1764590400.001, 1764590400.999, 1764590401.0, 1764590399.5):
        record = logging.LogRecord(log.LOGGER_NAME, logging.INFO, __file__, 1, "m", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        record.fields = {}
        stamp = json.loads(log.CloudLoggingFormatter().format(record))["time"]
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(record.msecs):03d}Z"
        assert stamp == expected


def test_event_lines_carry_level_message_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup()
    log.event(logging.WARNING, "100% sure %s", stage="token", attempt=2)
    log.event(logging.DEBUG, "not shown at INFO")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["severity"], entry["message"], entry["stage"], entry["attempt"]) == (
        "WARNING",
        "100% sure %s",
        "token",
        2,
    )
