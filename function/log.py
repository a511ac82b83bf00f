"""Structured logs: one JSON object per line on stdout, in the shape Cloud Logging reads.

Cloud Run turns each stdout line that is a JSON object into a structured entry:
``severity`` sets the level, ``message`` the summary, and
``logging.googleapis.com/trace`` groups the lines of one request under its trace.
Nothing here logs headers or bodies: the callers of this module pass only counts,
codes and identifiers, so a secret cannot reach a log by accident.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import Headers

from function import redact
from function.errors import UpstreamCallLimitExceeded

LOGGER_NAME = "cec_delete_called_route"

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# The span is a decimal 64-bit value; more digits than 2**64 has are not one.
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/([0-9]+))?(?:;o=([01]))?")
_MAX_SPAN = 2**64 - 1

# Cloud Logging takes entries of at most 256 KB; a line is kept well under that. An
# audit part (function/callers/audit.py) is at most 64 KB and is never cut.
MAX_LINE_BYTES = 128 * 1024
_MAX_FIELD_CHARS = 1024
_MAX_LIST_ITEMS = 20
# Characters that JSON allows raw but that split or hide a line in some log viewers
# (U+2028/U+2029 are line breaks to JavaScript), and DEL, C1 controls and lone
# surrogates, which stdout may not even encode.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@dataclass
class RequestContext:
    """What every log line of one request carries."""

    request_id: str
    trace_id: str | None = None
    span_id: str | None = None
    sampled: bool = False
    project: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    upstream_calls: dict[str, int] = field(default_factory=dict)
    # The most upstream calls this request may make (CEC_MAX_UPSTREAM_CALLS), set by
    # the service; every attempt is counted here before it is sent, so this is the
    # one place that sees them all.
    call_limit: int | None = None
    # Lookup pages are fetched on worker threads that share this context.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_call(self, stage: str) -> None:
        """Count one upstream attempt; raises UpstreamCallLimitExceeded past the limit."""
        with self._lock:
            if self.call_limit is not None and sum(self.upstream_calls.values()) >= self.call_limit:
                raise UpstreamCallLimitExceeded(
                    f"The request reached its limit of {self.call_limit} upstream calls"
                    " (CEC_MAX_UPSTREAM_CALLS) before its work was done."
                )
            self.upstream_calls[stage] = self.upstream_calls.get(stage, 0) + 1

    def calls_made(self) -> int:
        with self._lock:
            return sum(self.upstream_calls.values())


HeaderLookup = Headers | Mapping[str, str]

_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("request_context", default=None)


def parse_trace(headers: HeaderLookup) -> tuple[str | None, str | None, bool]:
    """(trace id, span id, sampled) from W3C ``traceparent`` or ``X-Cloud-Trace-Context``."""
    match = _TRACEPARENT.fullmatch(str(headers.get("traceparent") or "").strip().lower())
    if match and match.group(1) != "0" * 32:
        span: str | None = match.group(2)
        if span == "0" * 16:
            span = None  # an all-zero parent id is invalid (W3C Trace Context)
        return match.group(1), span, bool(int(match.group(3), 16) & 1)
    match = _CLOUD_TRACE.fullmatch(str(headers.get("X-Cloud-Trace-Context") or "").strip())
    if match and match.group(1) != "0" * 32:
        span = None
        digits = match.group(2) or ""
        if 0 < len(digits) <= 20:  # int() of thousands of digits raises
            value = int(digits)
            span = format(value, "016x") if 0 < value <= _MAX_SPAN else None
        return match.group(1).lower(), span, match.group(3) == "1"
    return None, None, False


def bind(context: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _context.set(context)


def unbind(token: contextvars.Token[RequestContext | None]) -> None:
    _context.reset(token)


def current() -> RequestContext | None:
    return _context.get()


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "time": _utc_second(record.created) + f".{int(record.msecs):03d}Z",
            "logger": record.name,
        }
        ctx = _context.get()
        if ctx is not None:
            entry["requestId"] = ctx.request_id
            if ctx.trace_id:
                if ctx.project:
                    entry["logging.googleapis.com/trace"] = f"projects/{ctx.project}/traces/{ctx.trace_id}"
                else:
                    entry["traceId"] = ctx.trace_id
                if ctx.span_id:
                    entry["logging.googleapis.com/spanId"] = ctx.span_id
                entry["logging.googleapis.com/trace_sampled"] = ctx.sampled
            entry.update(ctx.extra)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and where it happened, never its message: messages of
            # library exceptions can quote URLs, headers or payloads.
            exc_type, _, tb = record.exc_info
            frames = []
            while tb is not None:
                frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}")
                tb = tb.tb_next
            entry["exception"] = {"type": exc_type.__name__, "frames": frames[-8:]}
        line = _render(entry)
        if _too_long(line):
            line = _shortened(entry)
        return line


# The formatted second of the last line: a request's lines mostly share it.
_second: tuple[int, str] = (-1, "")


def _utc_second(created: float) -> str:
    global _second
    whole = int(created)
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return cached[1]


def _render(entry: dict[str, Any]) -> str:
    # The last guard: a known secret value never leaves in a log line (redact.py).
    line = redact.mask(json.dumps(entry, ensure_ascii=False, default=str))
    if line.isascii() and "\x7f" not in line:
        return line  # the usual line: DEL is the only unsafe ASCII character
    # These characters only occur inside JSON strings, where \uXXXX means the same.
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def _too_long(line: str) -> bool:
    # A character is at most 4 bytes of UTF-8: short lines need no encoding.
    return len(line) > MAX_LINE_BYTES // 4 and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES


def _shortened(entry: dict[str, Any]) -> str:
    """The entry with long strings cut, then also long lists; if still too long, its core.

    An audit record part is never cut (it is signed, and bounded by its writer): only
    the fields around it are, and the line then says ``truncatedOutsideAudit``."""
    names: tuple[str, ...] = ("audit", "logging.googleapis.com/labels") if "audit" in entry else ()
    kept = {k: entry[k] for k in names if k in entry}
    marker = "truncatedOutsideAudit" if kept else "truncated"
    rest = {k: v for k, v in entry.items() if k not in kept}
    for items in (None, _MAX_LIST_ITEMS):
        short = _cut(rest, items)
        short[marker] = True
        line = _render({**short, **kept})
        if not _too_long(line):
            return line
    core = {k: short[k] for k in ("severity", "message", "time", "logger", "requestId") if k in short}
    core[marker] = True
    return _render({**core, **kept})


def _cut(value: Any, items: int | None, depth: int = 0) -> Any:
    if isinstance(value, str):
        if len(value) <= _MAX_FIELD_CHARS:
            return value
        # Masked before the cut, which could otherwise leave a secret's first half.
        return redact.mask(value)[:_MAX_FIELD_CHARS] + "..."
    if depth > 8:
        return _cut(str(value), items)
    if isinstance(value, dict):
        pairs = list(value.items())[: None if items is None else items * 5]
        return {_cut(str(k), items): _cut(v, items, depth + 1) for k, v in pairs}
    if isinstance(value, list | tuple):
        return [_cut(v, items, depth + 1) for v in value[:items]]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _cut(str(value), items)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time, so captured output sees it."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


# logging.getLogger takes the logging module's lock on every call; this logger is
# looked up three times per request.
_logger = logging.getLogger(LOGGER_NAME)


def get_logger() -> logging.Logger:
    return _logger


def setup() -> None:
    """Attach the JSON handler once; cheap enough to call on every request."""
    logger = get_logger()
    if any(getattr(h, "_cec_json", False) for h in logger.handlers):
        return
    handler = _StdoutHandler()
    handler.setFormatter(CloudLoggingFormatter())
    handler._cec_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    # functions-framework may give the root logger plain-text handlers: keep our
    # lines single and structured.
    logger.propagate = False


def set_level(level: str) -> None:
    get_logger().setLevel(level)


def event(level: int, message: str, **fields: Any) -> None:
    logger = _logger
    if logger.isEnabledFor(level):
        # What Logger.log does, less findCaller: its walk up the stack would always
        # name this function, and no line shows the caller's file or line.
        extra = {"fields": fields}
        logger.handle(logger.makeRecord(logger.name, level, "(unknown file)", 0, message, (), None, extra=extra))
