"""Reading deleteCalledRoute's answer into deleted and failed route names.

The envelope is ``{returnCode, description, data: {id, name, content}}``. ``content``
equals ``name`` when every route was deleted or every one failed (only ``returnCode``
tells which), and reads ``Success:<names>,Failed:<names>`` on a partial result. The
``returnCode`` of a partial result is not documented, so such a ``content`` means
partial whatever the code says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from function import redact
from function.errors import UpstreamBadResponse
from function.models import BatchStatus

_SUCCESS = "Success:"
_FAILED = ",Failed:"
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

    if content.startswith(_SUCCESS):
        success_part, separator, failed_part = content[len(_SUCCESS) :].partition(_FAILED)
        if not separator and success_part.startswith("Failed:"):
            success_part, failed_part = "", success_part[len("Failed:") :]
        deleted, failed = _split(success_part), _split(failed_part)
    elif code == "0":
        deleted, failed = names or _split(content), []
    else:
        deleted, failed = [], names or _split(content)

    if deleted and failed:
        status: BatchStatus = "partial"
    elif deleted or (code == "0" and not failed):
        status = "deleted"
    else:
        status = "failed"
    return BatchAnswer(status, code, description, deleted, failed, ids)
