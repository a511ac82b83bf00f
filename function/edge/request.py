"""What a request sends, checked before anything is done with it: its request id, media
type, JSON and body model. Each failure is a specific problem (400, 415), never a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import ValidationError

from function.errors import InvalidRequest, MalformedJson, UnsupportedMediaType
from function.models import DeleteRequest, validation_errors

# Output bounds (issue 9): what a caller sends is echoed cut, and a list of errors
# stops at the first few.
MAX_LISTED_ERRORS = 20
# Real member names are short: up to this length a pointer is echoed whole and still
# resolves; only a longer (hostile) one is cut.
MAX_POINTER = 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_MEDIA = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json$")


def request_id_from(given: str, fallback: str) -> str:
    return given if _REQUEST_ID.fullmatch(given) else fallback


def check_content_type(value: str | None) -> None:
    if not value:
        raise UnsupportedMediaType("No Content-Type; send the body as Content-Type: application/json.")
    media, _, params = value.partition(";")
    if not _JSON_MEDIA.match(media.strip().lower()):
        raise UnsupportedMediaType(
            f"Content-Type {media.strip()[:64]!r} is not accepted; send Content-Type: application/json."
        )
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("JSON bodies must be UTF-8; send charset=utf-8 or no charset.")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class _DuplicateMember(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose member names are all different: a parser in front of this one
    that keeps the first of two (a proxy, a WAF rule, a log viewer) would otherwise
    see another request than the one this function runs."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateMember(name)
            seen.add(name)
    return document


# json.loads(text, parse_constant=...) builds a decoder on every call; one will do.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_members)


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise MalformedJson('The body is empty; send a JSON object such as {"dnids": "1,2"}.')
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):
            # What json.loads says here (the decoder itself does not look).
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except UnicodeDecodeError:
        raise MalformedJson("The body is not valid UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except _DuplicateMember as exc:
        raise MalformedJson(
            f"The body has the member {json.dumps(capped(exc.name), ensure_ascii=False)} twice in one object;"
            " send each member once."
        ) from None
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"The body is not valid JSON: {str(exc)[:80]}.") from None


def validate(document: Any, max_dnids: int) -> DeleteRequest:
    try:
        return DeleteRequest.model_validate(document, context={"max_dnids": max_dnids})
    except ValidationError as exc:
        errors = validation_errors(exc)
        # A member name can be as long as the body, and a body can hold 95,000 of
        # them: the answer lists the first few, with cut pointers, and says how many.
        detail = "; ".join(f"{capped(pointer) or 'body'}: {text}" for pointer, text in errors[:3])
        if len(errors) > MAX_LISTED_ERRORS:
            detail += f"; {len(errors)} errors in all, the first {MAX_LISTED_ERRORS} are listed"
        listed = [
            {"pointer": capped(pointer, MAX_POINTER), "detail": capped(text, MAX_POINTER)}
            for pointer, text in errors[:MAX_LISTED_ERRORS]
        ]
        raise InvalidRequest(detail, errors=listed) from None


def fingerprint(document: Any) -> str:
    # The parsed body, so that a redelivery with other whitespace or key order matches.
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def capped(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
