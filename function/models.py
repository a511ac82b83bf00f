"""Request and response models: the contract, and the source of /openapi.json."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from function.dnids import DnidsInvalid, parse_dnids

DEFAULT_MAX_DNIDS = 10000

_DNIDS_SCHEMA: dict[str, Any] = {
    "description": (
        "The routes to delete, by dnid (the small configuration number, not the 19-digit id):"
        ' the API\'s own comma-separated string ("1,2") or a list of integers and digit strings.'
        " Whitespace is trimmed and duplicates dropped."
    ),
    "anyOf": [
        {"type": "string", "pattern": r"^\s*[0-9]+\s*(,\s*[0-9]+\s*)*$", "examples": ["1,2"]},
        {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "string", "pattern": r"^\s*[0-9]+\s*$"},
                ]
            },
        },
    ],
}


def _validate_dnids(value: object, info: ValidationInfo) -> list[str]:
    max_count = DEFAULT_MAX_DNIDS
    if isinstance(info.context, dict):
        max_count = int(info.context.get("max_dnids", DEFAULT_MAX_DNIDS))
    try:
        return parse_dnids(value, max_count)
    except DnidsInvalid as exc:
        raise PydanticCustomError(
            "dnids_invalid",
            "{summary}",
            {"summary": str(exc), "entries": [(e.pointer, e.detail) for e in exc.errors]},
        ) from None


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DeleteRequest(_Model):
    """Body of ``POST /``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"dnids": "1,2"}]})

    dnids: Annotated[list[str], BeforeValidator(_validate_dnids), WithJsonSchema(_DNIDS_SCHEMA, mode="validation")]


BatchStatus = Literal["deleted", "partial", "failed", "error", "not_sent"]


class BatchResult(_Model):
    """One deleteCalledRoute call (at most CEC_BATCH_SIZE dnids)."""

    dnids: list[str]
    return_code: str | None = Field(description="The API's returnCode; null when the call got no usable answer.")
    description: str | None = Field(description="The API's description, or why the call failed.")
    status: BatchStatus = Field(
        description="error: the call got no usable answer; not_sent: an earlier batch's error stopped the run."
    )


class DeleteResult(_Model):
    """Body of a 200 (all deleted), 207 (partial) or 422 (nothing deleted) answer."""

    status: Literal["deleted", "partial", "failed"]
    dnids: list[str] = Field(description="The normalised dnids of the request, in order.")
    deleted: list[str] = Field(description="Route names (accessCode + extCode) the API deleted.")
    failed: list[str] = Field(description="Route names the API reported as not deleted.")
    ids: list[str] = Field(description="Record ids the API returned in data.id.")
    batches: list[BatchResult]
    request_id: str


class FieldError(_Model):
    pointer: str = Field(description="JSON pointer to the offending part of the body.")
    detail: str


class Problem(_Model):
    """RFC 9457 problem details, with this function's extensions."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable snake_case error code.")
    retryable: bool = Field(description="Whether sending the same request later can succeed.")
    request_id: str
    errors: list[FieldError] | None = Field(default=None, description="Field errors (status 400).")


def validation_errors(exc: ValidationError) -> list[FieldError]:
    """Turn pydantic's errors into field errors that speak of the JSON body."""
    result: list[FieldError] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        pointer = "/" + "/".join(loc) if loc else ""
        kind = error["type"]
        if kind == "dnids_invalid":
            ctx = error.get("ctx") or {}
            result.extend(FieldError(pointer=p, detail=d) for p, d in ctx.get("entries", []))
        elif kind == "extra_forbidden":
            result.append(FieldError(pointer=pointer, detail='unknown field; the body takes only "dnids"'))
        elif kind == "missing":
            result.append(FieldError(pointer=pointer, detail='is required, e.g. {"dnids": "1,2"}'))
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            result.append(FieldError(pointer="", detail='the body must be a JSON object, e.g. {"dnids": "1,2"}'))
        else:
            result.append(FieldError(pointer=pointer, detail=error["msg"]))
    return result
