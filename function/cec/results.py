"""Reading deleteCalledRoute's answer into deleted and failed route names.

The envelope is ``{returnCode, description, data: {id, name, content}}``. ``content``
equals ``name`` when every route was deleted or every one failed (only ``returnCode``
tells which), and reads ``Success:<names>,Failed:<names>`` on a partial result. The
``returnCode`` of a partial result is not documented, so such a ``content`` means
partial whatever the code says; it is read in any case and with spaces around its
parts. Only an answer in the documented all-deleted form (``exact``) can settle a
batch without a lookup, and then only when its names match the routes sent
(function/deletion/outcomes.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from function import redact
from function.errors import UpstreamBadResponse
from function.models import BatchStatus

# "Success:<names>,Failed:<names>", "success: a, failed: b", or "Failed:<names>" alone.
_PARTIAL = re.compile(r"^\s*success\s*:(?P<ok>.*?)(?:[,;]?\s*failed\s*:(?P<bad>.*))?$", re.IGNORECASE | re.DOTALL)
_FAILED_ONLY = re.compile(r"^\s*failed\s*:(?P<bad>.*)$", re.IGNORECASE | re.DOTALL)
# A description is a sentence; a longer one is cut (it is echoed in every batch).
MAX_DESCRIPTION_CHARS = 500


@dataclass(frozen=True)
class BatchAnswer:
    status: BatchStatus
    return_code: str
    description: str
    deleted: list[str]
    failed: list[str]
    ids: list[str]
    # The documented all-deleted form: returnCode "0", names given, content equal to them.
    exact: bool = False


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return redact.mask(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise UpstreamBadResponse(f"deleteCalledRoute answered with data.{key} of type {type(value).__name__}.")


def parse_delete_answer(body: object) -> BatchAnswer:
    """Interpret one 200 answer; raise UpstreamBadResponse when it is not the documented shape."""
    if not isinstance(body, dict):
        raise UpstreamBadResponse("deleteCalledRoute answered 200 with a body that is not a JSON object.")
    code = body.get("returnCode")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code.strip():
        raise UpstreamBadResponse("deleteCalledRoute answered 200 without a returnCode.")
    code = redact.mask(code.strip())
    description = body.get("description")
    # Upstream text is echoed to callers and logs: known secrets are masked first.
    description = redact.mask(description[:MAX_DESCRIPTION_CHARS]) if isinstance(description, str) else ""
    data = body.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UpstreamBadResponse("deleteCalledRoute answered with a data field that is not an object.")

    names = _split(_text(data, "name"))
    content = _text(data, "content").strip()
    ids = _split(_text(data, "id"))

    partial = _PARTIAL.match(content) or _FAILED_ONLY.match(content)
    if partial is not None:
        groups = partial.groupdict()
        deleted, failed = _split(groups.get("ok") or ""), _split(groups.get("bad") or "")
    elif code == "0":
        deleted, failed = names or _split(content), []
    else:
        deleted, failed = [], names or _split(content)
    exact = partial is None and code == "0" and bool(names) and _split(content) == names

    if deleted and failed:
        status: BatchStatus = "partial"
    elif deleted or (code == "0" and not failed):
        status = "deleted"
    else:
        status = "failed"
    return BatchAnswer(status, code, description, deleted, failed, ids, exact)
