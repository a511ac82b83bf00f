"""Request and response models: the contract, and the source of /openapi.json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from function.dnids import DnidsInvalid, parse_dnids, parse_ids

DEFAULT_MAX_DNIDS = 10000
# Plan tokens (function/callers/plans.py): the lifetime a dry run may ask for, and the
# longest token accepted (one of 5,000 routes, the most a token holds, stays well under).
DEFAULT_TTL_SECONDS = 900
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 86400
MAX_TOKEN_CHARS = 262_144

_DIGITS = r"^[ \t\n\r]*[0-9]+[ \t\n\r]*$"
_DIGIT_LIST = r"^[ \t\n\r]*[0-9]+[ \t\n\r]*(,[ \t\n\r]*[0-9]+[ \t\n\r]*)*$"

# The documents show each accepted form as one branch of one type, so that generated
# clients can tell them apart (a list whose items are themselves "integer or string"
# becomes a wrapper model that openapi-generator's Python client cannot fill). The
# parser is more tolerant than that (a mixed list [1, "2"] passes too).
_DNIDS_SCHEMA: dict[str, Any] = {
    "description": (
        "The routes to delete, by dnid (the small configuration number, not the 19-digit id):"
        ' the API\'s own comma-separated string ("1,2"), or a list of integers, or a list of'
        " digit strings. Whitespace is trimmed and duplicates dropped."
    ),
    "anyOf": [
        {"type": "string", "pattern": _DIGIT_LIST, "examples": ["1,2"]},
        {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1}},
        {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": _DIGITS}},
    ],
}


# Record ids have 19 digits, past what a JavaScript number holds exactly: the documents
# offer them as strings only (the parser also takes integers).
_IDS_SCHEMA: dict[str, Any] = {
    "description": (
        "The routes to delete, by record id (the 19-digit id that queryCalledRoute and"
        " deleteCalledRoute return): a comma-separated string or a list of digit strings."
    ),
    "anyOf": [
        {"type": "string", "pattern": _DIGIT_LIST, "examples": ["1127983948544239618"]},
        {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": _DIGITS}},
    ],
}


def _number_validator(parse: Callable[[object, int], list[str]]) -> Callable[[object, ValidationInfo], list[str]]:
    def validate(value: object, info: ValidationInfo) -> list[str]:
        max_count = DEFAULT_MAX_DNIDS
        if isinstance(info.context, dict):
            max_count = int(info.context.get("max_dnids", DEFAULT_MAX_DNIDS))
        try:
            return parse(value, max_count)
        except DnidsInvalid as exc:
            raise PydanticCustomError(
                "dnids_invalid",
                "{summary}",
                {"summary": str(exc), "entries": [(e.pointer, e.detail) for e in exc.errors]},
            ) from None

    return validate


def _refuse_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("null_refused", "null is not accepted: leave the field out instead")
    return value


# An optional request field sent as null is refused, never read as "absent": no-code tools
# send empty fields as null, and reading one as absent can widen a deletion (a null extCode
# would select every extension of the hotline).
NotNull = BeforeValidator(_refuse_null)


class _Model(BaseModel):
    # Answers are serialised without null fields: an absent field means unknown or
    # not applicable (see function/edge/handler.py).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class _Input(BaseModel):
    # Only the documented (camelCase) spellings are accepted, and nothing else.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")


class RouteSelector(_Input):
    """A hotline: every route of an access code, or the one with the given extension."""

    access_code: str = Field(min_length=1, max_length=32, pattern=r"^\S+$", examples=["9911411"])
    ext_code: Annotated[str | None, NotNull] = Field(
        default=None,
        max_length=12,
        pattern=r"^\S*$",
        description='Omitted: every extension of the access code. "": the bare access code only. null is refused.',
    )


DnidList = Annotated[
    list[str], BeforeValidator(_number_validator(parse_dnids)), WithJsonSchema(_DNIDS_SCHEMA, mode="validation")
]
IdList = Annotated[
    list[str], BeforeValidator(_number_validator(parse_ids)), WithJsonSchema(_IDS_SCHEMA, mode="validation")
]


# The selectors of DeleteRequest (field names): exactly one of them per body. A new
# selector is one optional field on DeleteRequest plus its name here; the rule, the 400
# details and the OpenAPI documents (x-exactly-one-of, in the JSON spelling) follow.
SELECTORS: tuple[str, ...] = ("dnids", "ids", "routes", "plan_token")
SELECTOR_ALIASES: tuple[str, ...] = tuple(to_camel(name) for name in SELECTORS)


class DeleteRequest(_Input):
    """Body of ``POST /``. Give exactly one selector (dnids, ids, routes or planToken),
    optionally with dryRun (not with planToken). A field sent as null is refused (400). A body with none or several
    selectors answers 400 invalid_request (the rule is also in x-exactly-one-of)."""

    # One object with optional selectors rather than oneOf branches: code generators keep
    # every field of one object (a oneOf branch model kept only its selector and dropped
    # dryRun, turning a dry run into a deletion).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"dnids": "1,2"},
                {"ids": ["1127983948544239618"]},
                {"routes": [{"accessCode": "9911411"}], "dryRun": True},
                {"planToken": "p1.3f2a9c1d.eNpt...Q"},
            ],
            "x-exactly-one-of": list(SELECTOR_ALIASES),
        }
    )

    dnids: Annotated[DnidList | None, NotNull] = None
    ids: Annotated[IdList | None, NotNull] = None
    routes: Annotated[Annotated[list[RouteSelector], Field(min_length=1, max_length=1000)] | None, NotNull] = None
    dry_run: StrictBool = Field(
        default=False, description="Return the plan (what would be deleted) and delete nothing."
    )
    # Plan tokens (issue 13): a fourth selector, and the lifetime a dry run asks for.
    plan_token: Annotated[str | None, NotNull] = Field(
        default=None,
        min_length=1,
        max_length=MAX_TOKEN_CHARS,
        description=(
            "A dry run's planToken: deletes exactly the routes that dry run showed, those whose"
            " current record still matches it (the others are reported changed or already_absent)."
        ),
    )
    plan_ttl_seconds: Annotated[int | None, NotNull] = Field(
        default=None,
        ge=MIN_TTL_SECONDS,
        le=MAX_TTL_SECONDS,
        description="Dry runs only: how long the planToken stays valid (default 900 s, at most 86400 s).",
    )

    @property
    def selector(self) -> str:
        """The JSON name of the selector this body uses (valid bodies have exactly one)."""
        return next(
            alias for name, alias in zip(SELECTORS, SELECTOR_ALIASES, strict=True) if getattr(self, name) is not None
        )

    @model_validator(mode="after")
    def _one_selector(self) -> DeleteRequest:
        given = [
            alias for name, alias in zip(SELECTORS, SELECTOR_ALIASES, strict=True) if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise PydanticCustomError(
                "one_selector",
                f"give exactly one of {_names(SELECTOR_ALIASES)}"
                + (f" (this body has {', '.join(given)})" if given else ""),
            )
        if self.plan_token is not None and self.dry_run:
            raise PydanticCustomError(
                "plan_options", "a planToken is applied, not previewed again: dry-run the original selector"
            )
        if self.plan_ttl_seconds is not None and not self.dry_run:
            raise PydanticCustomError("plan_options", "planTtlSeconds applies to dry runs only")
        return self


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]


BatchStatus = Literal["deleted", "partial", "failed", "error", "not_sent"]
RouteOutcomeName = Literal["deleted", "already_absent", "protected", "changed", "failed", "not_sent", "unknown"]


class BatchResult(_Model):
    """One deleteCalledRoute call (at most CEC_BATCH_SIZE dnids)."""

    dnids: list[str]
    return_code: str | None = Field(default=None, description="The API's returnCode; absent without a usable answer.")
    description: str | None = Field(default=None, description="The API's description, or why the call failed.")
    status: BatchStatus = Field(
        description="error: the call got no usable answer; not_sent: an earlier batch's error stopped the run."
    )


class RouteResult(_Model):
    """What happened to one requested route."""

    dnid: str | None = None
    id: str | None = None
    access_code: str | None = None
    ext_code: str | None = None
    outcome: RouteOutcomeName = Field(
        description=(
            "deleted: removed by this request; already_absent: gone, not known to be removed by this"
            " request (success: the goal holds);"
            " protected: marked not deletable (editable 2 or 3) or in PROTECTED_ACCESS_CODES;"
            " changed: a planToken's route whose dnid now holds another record (not sent); failed: the API refused it;"
            " not_sent: an earlier batch's error stopped the run; unknown: no answer and no way to check."
        )
    )
    description: str | None = None


class UnmatchedSelector(_Model):
    """A selector entry that matched no route."""

    dnid: str | None = None
    id: str | None = None
    access_code: str | None = None
    ext_code: str | None = None


class Target(_Model):
    # A deletion never builds this: its schema is built on first use (issue 14).
    model_config = ConfigDict(defer_build=True)

    type: Literal["skill_queue", "ivr", "unknown"]
    id: int | None = None
    name: str | None = None


class PlannedRoute(_Model):
    # A deletion never builds this: its schema is built on first use (issue 14).
    model_config = ConfigDict(defer_build=True)

    dnid: str
    id: str
    access_code: str
    ext_code: str
    target: Target
    media_type_id: int | None = None
    editable: str | None = None
    deletable: bool = Field(
        description="False when editable is 2 or 3 or the access code is protected: such routes are never sent."
    )
    reason: str | None = Field(default=None, description="Why a route is not deletable.")


class DryRunResult(_Model):
    """Body of a dry run (200): what a real request would do; nothing was deleted."""

    model_config = ConfigDict(defer_build=True)  # built on first use: a deletion never needs it

    status: Literal["planned"]
    dry_run: Literal[True]
    dnids: list[str] = Field(description="The dnids a real request would send (deletable routes only).")
    plan: list[PlannedRoute]
    not_found: list[UnmatchedSelector]
    plan_token: str | None = Field(
        default=None, description='Send {"planToken": ...} to delete exactly these routes; present with signing keys.'
    )
    plan_id: str | None = None
    plan_expires_at: str | None = Field(default=None, description="RFC 3339 time after which the token is refused.")
    plan_token_omitted: str | None = Field(default=None, description="Why this dry run carries no planToken.")
    request_id: str


class DeleteResult(_Model):
    """Body of a 200 (all deleted), 207 (partial) or 422 (nothing deleted) answer."""

    status: Literal["deleted", "partial", "failed"] = Field(
        description="deleted: none of the selected routes exists any more; partial: some still do; failed: all do."
    )
    dnids: list[str] = Field(description="The dnids sent to the API, in order.")
    deleted: list[str] = Field(description="Route names (accessCode + extCode) the API deleted.")
    failed: list[str] = Field(description="Route names the API reported as not deleted.")
    ids: list[str] = Field(description="Record ids the API returned in data.id.")
    batches: list[BatchResult]
    results: list[RouteResult] | None = Field(
        default=None, description="One entry per requested route; present whenever a lookup was made."
    )
    not_found: list[UnmatchedSelector] | None = Field(
        default=None, description="Selector entries that matched no route."
    )
    plan_id: str | None = Field(default=None, description="The applied plan token's id.")
    not_restorable: list[str] | None = Field(
        default=None,
        description=(
            "dnids sent without their record looked up first (CEC_LOOKUP_BEFORE_DELETE=false, or a"
            " lookup that could not finish): their audit entry holds the dnid only, so they cannot be"
            " re-created from it."
        ),
    )
    request_id: str


class FieldError(_Model):
    # A deletion never builds this: its schema is built on first use (issue 14).
    model_config = ConfigDict(defer_build=True)

    pointer: str = Field(description="JSON pointer to the offending part of the body.")
    detail: str


class Problem(_Model):
    """RFC 9457 problem details, with this function's extensions."""

    model_config = ConfigDict(defer_build=True)  # built on the first error answer, not at import

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(
        description="Stable snake_case error code (README, Errors).",
        examples=[
            "invalid_request", "malformed_json", "unauthenticated", "forbidden", "not_found", "method_not_allowed",
            "payload_too_large", "in_progress", "unsupported_media_type", "idempotency_key_reused",
            "lookup_limit_exceeded", "plan_invalid", "plan_expired", "plan_wrong_caller", "misconfigured",
            "internal_error", "upstream_auth_failed", "upstream_rejected", "upstream_bad_response", "not_configured",
            "secret_unavailable", "upstream_unavailable", "upstream_timeout", "listing_unstable",
            "token_url_not_found", "upstream_throttled",
        ],
    )  # fmt: skip
    retryable: bool = Field(description="Whether sending the same request later can succeed.")
    request_id: str
    errors: list[FieldError] | None = Field(default=None, description="Field errors (status 400).")


def _request_fields() -> str:
    return ", ".join(field.alias or name for name, field in DeleteRequest.model_fields.items())


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into (JSON pointer, detail) pairs that speak of the JSON body.

    Plain pairs rather than FieldError models: a 1 MiB body can hold 95,000 unknown
    members, and only the first few are shown (function/edge/request.py, MAX_LISTED_ERRORS).
    """
    result: list[tuple[str, str]] = []
    request_fields = _request_fields()
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        # RFC 6901: "~" and "/" inside a member name are escaped.
        pointer = "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in loc)
        kind = error["type"]
        if kind == "dnids_invalid":
            ctx = error.get("ctx") or {}
            result.extend((p, d) for p, d in ctx.get("entries", []))
        elif kind == "extra_forbidden":
            allowed = "accessCode, extCode" if loc[:1] == ["routes"] else request_fields
            result.append((pointer, f"unknown field; the accepted ones are {allowed}"))
        elif kind == "missing":
            result.append((pointer, "is required"))
        elif kind == "one_selector":
            result.append(("", error["msg"] + ', e.g. {"dnids": "1,2"}'))
        elif kind in ("model_type", "model_attributes_type", "dict_type") and not loc:
            result.append(("", 'the body must be a JSON object, e.g. {"dnids": "1,2"}'))
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            result.append((pointer, 'must be an object such as {"accessCode": "9911411"}'))
        else:
            result.append((pointer, error["msg"]))
    return result
