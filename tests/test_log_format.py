"""The log formatter's own bounds: every line is one JSON object, under the size cap,
with line separators and control characters escaped (issue 9, items 10 and 13)."""

from __future__ import annotations

import json
import logging

from function import log, redact


def _format(message: str, **fields: object) -> str:
    record = logging.LogRecord(log.LOGGER_NAME, logging.INFO, __file__, 1, message, None, None)
    record.fields = fields
    return log.CloudLoggingFormatter().format(record)


def test_every_line_is_capped_whatever_it_carries() -> None:
    cases = [
        _format("m" * 1_000_000),
        _format("ok", path="p" * 2_000_000),
        _format("ok", errors=[{"pointer": "/" + "k" * 5000, "detail": "d" * 5000} for _ in range(1000)]),
        _format("ok", **{f"f{i}": "v" * 2000 for i in range(500)}),
        _format("\u2028" * 300_000),
    ]
    for line in cases:
        assert len(line.encode()) <= log.MAX_LINE_BYTES * 2  # escapes can at most double a cut line
        entry = json.loads(line)
        assert entry["truncated"] is True
        assert entry["severity"] == "INFO"
    assert "truncated" not in json.loads(_format("ok", path="/short"))


def test_separators_and_controls_are_escaped() -> None:
    text = "a\u2028b\u2029c\x85d\x7fe\x01f\ud800g"
    line = _format(text, path=text)
    assert not set(line) & {"\u2028", "\u2029", "\x85", "\x7f", "\x01", "\ud800"}
    assert len(line.splitlines()) == 1
    entry = json.loads(line)
    assert entry["message"] == text
    assert entry["path"] == text


def test_a_secret_is_masked_before_a_long_field_is_cut() -> None:
    secret = "s3cr3t-value-0123456789abcdefghij"
    redact.register("test_secret", [secret])
    try:
        # The secret straddles the cut at 1024 characters; a cut first would leave its start.
        text = "x" * 1010 + secret + "y" * 300_000
        line = _format("ok", field=text)
        assert json.loads(line)["truncated"] is True
        assert secret[:12] not in line
    finally:
        redact.clear_cache()
