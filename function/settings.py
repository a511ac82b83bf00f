"""Settings: every environment variable the function reads, validated once.

The environment of a Cloud Functions instance does not change while it runs, so the
settings are read on first use and kept. A mistake in them does not crash the
instance: every request answers 503 ``not_configured`` naming the setting, which is
easier to find from a workflow tool than a crash loop in Cloud Logging.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from function.errors import NotConfigured

CallerAuthMethod = Literal["api_key", "webhook", "iam", "none"]

SECRET_VERSION_PATTERN = r"^projects/[^/\s]+/(locations/[^/\s]+/)?secrets/[^/\s]+/versions/[^/\s]+$"

PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]

# Secret values arrive as people paste them: a file written by `cmd > file` and given
# to Secret Manager (then to an environment variable) ends in a newline. None of the
# secret formats can hold ASCII whitespace at either end, so it is trimmed; other
# whitespace (NBSP and the like) is part of the value.
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


class Settings(BaseModel):
    """The function's configuration; field aliases are the environment variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    caller_auth: tuple[CallerAuthMethod, ...] = Field(
        default=(),
        alias="CALLER_AUTH",
        description="Comma list of accepted caller authentication methods.",
    )
    api_keys: SecretStr | None = Field(
        default=None, alias="API_KEYS", description="Comma list of accepted X-API-Key values."
    )
    api_keys_secret: str | None = Field(
        default=None,
        alias="API_KEYS_SECRET",
        pattern=SECRET_VERSION_PATTERN,
        description="Secret Manager version holding the accepted API keys.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, alias="WEBHOOK_SECRET", description="Standard Webhooks secret (whsec_...)."
    )
    # Cloud Run IAM callers (function/callers/iam.py).
    iam_allowed_principals: str | None = Field(
        default=None,
        alias="IAM_ALLOWED_PRINCIPALS",
        description="Comma list of the IAM members (serviceAccount:EMAIL, user:EMAIL, or an email) iam accepts.",
    )
    iam_audiences: str | None = Field(
        default=None,
        alias="IAM_AUDIENCES",
        description="Comma list of this function's URLs: the audiences a token Cloud Run did not check must name.",
    )
    iam_certs_url: str = Field(
        default="https://www.googleapis.com/oauth2/v1/certs",
        alias="IAM_CERTS_URL",
        pattern=r"^(https://\S+|http://127\.0\.0\.1(:[0-9]+)?(/\S*)?)$",
        description="Where Google's ID-token certificates are fetched (https, or loopback http for tests).",
    )

    cec_base_url: str | None = Field(
        default=None,
        alias="CEC_BASE_URL",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL of the tenant's CEC API, e.g. https://service.besclouds.com.",
    )
    cec_token_url: str | None = Field(
        default=None,
        alias="CEC_TOKEN_URL",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="tokenByAkSk URL; defaults to {CEC_BASE_URL}/apigovernance/api/oauth/tokenByAkSk.",
    )
    cec_token_ttl_seconds: int = Field(
        default=600,
        ge=60,
        le=3600,
        alias="CEC_TOKEN_TTL_SECONDS",
        description="`X-Token-Expire` asked for, 60..3600; the token is renewed before it expires.",
    )
    cec_app_key_header: str = Field(
        default="app-key",
        alias="CEC_APP_KEY_HEADER",
        pattern=r"^(app-key|omit|user-id:[!-~]{1,256})$",
        description=(
            'What the X-APP-Key header carries: "app-key" (the AK), "omit" (no header), or'
            ' "user-id:<id>" (that user id); scripts/probe_tenant.py tells which a tenant wants.'
        ),
    )
    cec_credentials_secret: str | None = Field(
        default=None,
        alias="CEC_CREDENTIALS_SECRET",
        description='Secret Manager version with JSON {"app_key": "...", "app_secret": "..."}.',
        pattern=SECRET_VERSION_PATTERN,
    )
    cec_app_key: SecretStr | None = Field(
        default=None,
        alias="CEC_APP_KEY",
        description=(
            "The CEC AK directly (local runs, or secrets mounted as environment variables); used only "
            "without `CEC_CREDENTIALS_FILE` and `CEC_CREDENTIALS_SECRET`."
        ),
    )
    cec_app_secret: SecretStr | None = Field(
        default=None, alias="CEC_APP_SECRET", description="The CEC SK, with `CEC_APP_KEY`."
    )
    cec_batch_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        alias="CEC_BATCH_SIZE",
        description="Dnids per `deleteCalledRoute` call, 1..1000; batches are sent one after another.",
    )
    cec_timeout_seconds: PositiveSeconds = Field(
        default=10.0,
        alias="CEC_TIMEOUT_SECONDS",
        description="Wall-clock bound of each CEC API call, the whole answer included (not per socket read).",
    )
    cec_max_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        alias="CEC_MAX_RETRIES",
        description="Retries after connection errors and 429/502/503/504, 0..5.",
    )

    secret_manager_endpoint: str | None = Field(
        default=None,
        alias="SECRET_MANAGER_ENDPOINT",
        description=(
            "Secret Manager endpoint: a regional one (`secretmanager.REGION.rep.googleapis.com`), or "
            "`http://127.0.0.1:PORT` for the local fake (no Google credentials are sent to an `http://` "
            "endpoint)."
        ),
    )
    secret_cache_ttl_seconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        alias="SECRET_CACHE_TTL_SECONDS",
        description=(
            "How long secrets are cached in memory; `0` reads the CEC credentials on every request (the "
            "API keys, from a file or a secret, are kept at least 60 s)."
        ),
    )
    secret_timeout_seconds: PositiveSeconds = Field(
        default=5.0,
        alias="SECRET_TIMEOUT_SECONDS",
        description=(
            "Wall-clock bound of one Secret Manager read attempt (3 attempts at most, all within the request's budget)."
        ),
    )

    request_budget_seconds: PositiveSeconds = Field(
        default=25.0,
        alias="REQUEST_BUDGET_SECONDS",
        description="Time budget of one request, all upstream calls and retries included.",
    )
    # The HTTP edge (issue 9): how long the body may take to arrive after the headers.
    body_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        alias="BODY_TIMEOUT_SECONDS",
        description="Seconds the whole body may take to arrive after the headers; then 408.",
    )
    max_dnids: int = Field(
        default=10000,
        ge=1,
        le=100000,
        alias="MAX_DNIDS",
        description="Distinct dnids (or ids, or routes a selector matches) per request.",
    )
    cec_max_lookup_records: int = Field(
        default=20000,
        ge=100,
        le=1_000_000,
        alias="CEC_MAX_LOOKUP_RECORDS",
        description="Most queryCalledRoute records one request may read.",
    )
    idempotency_ttl_seconds: int = Field(
        default=3600,
        ge=0,
        le=86400,
        alias="IDEMPOTENCY_TTL_SECONDS",
        description="How long an idempotency key's answer is kept; `0` turns keys off.",
    )
    idempotency_max_entries: int = Field(
        default=10000,
        ge=1,
        le=1_000_000,
        alias="IDEMPOTENCY_MAX_ENTRIES",
        description="Memory store: keys kept per instance (running requests are never dropped).",
    )
    # Idempotency store (issue 12): memory per instance, or Firestore shared by all.
    idempotency_store: Literal["memory", "firestore"] = Field(
        default="memory",
        alias="IDEMPOTENCY_STORE",
        description="`memory` (per instance) or `firestore` (shared by every instance; needs `GOOGLE_CLOUD_PROJECT`).",
    )
    idempotency_firestore_database: str = Field(
        default="(default)",
        alias="IDEMPOTENCY_FIRESTORE_DATABASE",
        description="Firestore database of the store.",
        pattern=r"^(\(default\)|[a-z][a-z0-9-]{2,62})$",
    )
    idempotency_firestore_collection: str = Field(
        default="cec-delete-called-route-idempotency",
        alias="IDEMPOTENCY_FIRESTORE_COLLECTION",
        description="Collection of the store's documents (TTL policy on `expires_at`).",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
    )
    idempotency_store_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        alias="IDEMPOTENCY_STORE_TIMEOUT_SECONDS",
        description="Deadline of one store operation (claim, finish or abandon), up to 30.",
    )
    idempotency_on_store_error: Literal["fail", "proceed"] = Field(
        default="fail",
        alias="IDEMPOTENCY_ON_STORE_ERROR",
        description="Store down: `fail` (503 `idempotency_unavailable`) or `proceed` (run without it).",
    )
    idempotency_max_entries_per_caller: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        alias="IDEMPOTENCY_MAX_ENTRIES_PER_CALLER",
        description="Memory store: keys kept per caller scope; a caller at its quota drops its own oldest answer.",
    )
    google_cloud_project: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT"),
        description="Project id, for the trace field of log lines.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL", description="`DEBUG`, `INFO`, `WARNING`, `ERROR`."
    )

    # The OpenAPI documents (function/edge/openapi/document.py): the URL they name as the server.
    public_url: str | None = Field(
        default=None,
        alias="PUBLIC_URL",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The function's public URL, written into the OpenAPI documents' servers.",
    )

    # Safeguards (issue 13): plan tokens, caller policies, protected hotlines, audit.
    plan_signing_keys: SecretStr | None = Field(
        default=None, alias="PLAN_SIGNING_KEYS", description="Comma list of plan-token HMAC keys; the first signs."
    )
    plan_signing_keys_secret: str | None = Field(
        default=None,
        alias="PLAN_SIGNING_KEYS_SECRET",
        description="Secret Manager version holding the plan-signing keys (a comma or newline list).",
        pattern=SECRET_VERSION_PATTERN,
    )
    plan_max_routes: int = Field(
        default=1000,
        ge=1,
        le=5000,
        alias="PLAN_MAX_ROUTES",
        description=(
            "Most routes one plan token holds, 1..5000; a larger dry run answers `planTokenOmitted` instead of a token."
        ),
    )
    caller_policies: str | None = Field(
        default=None,
        alias="CALLER_POLICIES",
        description=(
            "JSON object from caller principal (or `*`) to policy (README: caller policies); unset: no restriction."
        ),
    )
    caller_policies_secret: str | None = Field(
        default=None,
        alias="CALLER_POLICIES_SECRET",
        description="Secret Manager version holding the caller policies JSON.",
        pattern=SECRET_VERSION_PATTERN,
    )
    protected_access_codes: str | None = Field(
        default=None,
        alias="PROTECTED_ACCESS_CODES",
        description=(
            "Comma list of access codes and prefixes (`400800*`) whose routes are never sent to deleteCalledRoute."
        ),
    )
    cec_lookup_before_delete: bool = Field(
        default=True,
        alias="CEC_LOOKUP_BEFORE_DELETE",
        description=(
            "Look plain dnids up before deleting them, so that every deletion is audited with its full"
            " record and can be restored; false gives that up for fewer upstream calls."
        ),
    )
    audit_signing_keys: SecretStr | None = Field(
        default=None,
        alias="AUDIT_SIGNING_KEYS",
        description="Comma list of audit-record HMAC keys; the first signs. Unset: a key derived from the CEC AK/SK.",
    )

    # Upstream-call bounds and lookup concurrency (issue 9 item 8, issue 14).
    cec_max_upstream_calls: int = Field(
        default=300,
        ge=10,
        le=100_000,
        alias="CEC_MAX_UPSTREAM_CALLS",
        description="Most upstream HTTP calls (tokens, lookups, deletes, retries) one request may make.",
    )
    cec_lookup_concurrency: int = Field(
        default=4,
        ge=1,
        le=16,
        alias="CEC_LOOKUP_CONCURRENCY",
        description="queryCalledRoute pages fetched at once once the first page told the total; 1 = one by one.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        alias="THREADS",
        description="gunicorn threads per instance (functions-framework's; default 4 per CPU), to size the pool.",
    )
    # The CEC AK/SK from a file: a Secret Manager secret mounted as a volume (issue 14).
    cec_credentials_file: str | None = Field(
        default=None,
        alias="CEC_CREDENTIALS_FILE",
        pattern=r"^/\S+$",
        description='Absolute path of a file holding JSON {"app_key", "app_secret"}, e.g. a mounted secret.',
    )
    # The other run-time secrets as mounted files too, each preferred to its *_SECRET
    # twin (function/secret_source.py): no client library on any request's path.
    api_keys_file: str | None = Field(
        default=None,
        alias="API_KEYS_FILE",
        description=(
            "Absolute path of a file with the accepted keys (the API-keys secret mounted as a volume); "
            "preferred to API_KEYS_SECRET."
        ),
        pattern=r"^/\S+$",
    )
    plan_signing_keys_file: str | None = Field(
        default=None,
        alias="PLAN_SIGNING_KEYS_FILE",
        description=(
            "Absolute path of a file holding the plan-signing keys (the secret mounted as a volume); "
            "preferred to PLAN_SIGNING_KEYS_SECRET."
        ),
        pattern=r"^/\S+$",
    )
    caller_policies_file: str | None = Field(
        default=None,
        alias="CALLER_POLICIES_FILE",
        description=(
            "Absolute path of a file holding the caller policies JSON (the secret mounted as a volume); "
            "preferred to CALLER_POLICIES_SECRET."
        ),
        pattern=r"^/\S+$",
    )

    @field_validator("caller_auth", mode="before")
    @classmethod
    def _split_methods(cls, value: object) -> object:
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(dict.fromkeys(m.strip().lower() for m in value.split(",") if m.strip()))
        return value

    @field_validator("api_keys", "webhook_secret", "cec_app_key", "cec_app_secret", "plan_signing_keys", mode="before")
    @classmethod
    def _trim_secret(cls, value: object) -> object:
        return value.strip(ASCII_WHITESPACE) if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def token_url(self) -> str:
        if self.cec_token_url:
            return self.cec_token_url
        return f"{(self.cec_base_url or '').rstrip('/')}/apigovernance/api/oauth/tokenByAkSk"

    @property
    def api_base_url(self) -> str:
        return (self.cec_base_url or "").rstrip("/")

    @property
    def iam_principals(self) -> frozenset[str]:
        """The emails of IAM_ALLOWED_PRINCIPALS, lowercased."""
        found = (_IAM_MEMBER.fullmatch(entry) for entry in _comma_list(self.iam_allowed_principals))
        return frozenset(match.group(2).lower() for match in found if match)

    @property
    def iam_audience_list(self) -> tuple[str, ...]:
        return tuple(_comma_list(self.iam_audiences))

    def missing(self) -> list[str]:
        """What keeps this configuration from serving requests, one sentence each."""
        problems: list[str] = []
        if not self.caller_auth:
            problems.append("CALLER_AUTH is not set: set it to a comma list of api_key, webhook, iam, none.")
        if "api_key" in self.caller_auth and not (self.api_keys or self.api_keys_file or self.api_keys_secret):
            problems.append("CALLER_AUTH includes api_key but none of API_KEYS, API_KEYS_FILE, API_KEYS_SECRET is set.")
        if self.api_keys and (self.api_keys_file or self.api_keys_secret):
            problems.append("Set API_KEYS or an API_KEYS_FILE/_SECRET, not both.")
        if "webhook" in self.caller_auth:
            if not self.webhook_secret:
                problems.append("CALLER_AUTH includes webhook but WEBHOOK_SECRET is not set.")
            elif not _are_webhook_secrets(self.webhook_secret.get_secret_value()):
                problems.append(
                    "WEBHOOK_SECRET is not a Standard Webhooks secret (whsec_ followed by base64),"
                    " nor a comma list of them, each optionally named (name=whsec_...)."
                )
        if "iam" in self.caller_auth:
            problems.extend(self._iam_problems())
        if not self.cec_base_url:
            problems.append("CEC_BASE_URL is not set: set it to your tenant's CEC API base URL.")
        has_env_pair = bool(self.cec_app_key and self.cec_app_secret)
        from_secret = bool(self.cec_credentials_secret or self.cec_credentials_file)
        if not (from_secret or has_env_pair):
            problems.append(
                "No CEC credentials: set CEC_CREDENTIALS_FILE (a mounted secret), CEC_CREDENTIALS_SECRET"
                " (a Secret Manager version) or both CEC_APP_KEY and CEC_APP_SECRET."
            )
        elif not from_secret and bool(self.cec_app_key) != bool(self.cec_app_secret):
            problems.append("Set both CEC_APP_KEY and CEC_APP_SECRET, not only one of them.")
        if self.plan_signing_keys and (self.plan_signing_keys_file or self.plan_signing_keys_secret):
            problems.append("Set PLAN_SIGNING_KEYS or a PLAN_SIGNING_KEYS_FILE/_SECRET, not both.")
        if self.caller_policies and (self.caller_policies_file or self.caller_policies_secret):
            problems.append("Set CALLER_POLICIES or a CALLER_POLICIES_FILE/_SECRET, not both.")
        if self.idempotency_store == "firestore" and not self.google_cloud_project:
            problems.append("IDEMPOTENCY_STORE=firestore needs GOOGLE_CLOUD_PROJECT (the project of the database).")
        return problems

    def _iam_problems(self) -> list[str]:
        entries = _comma_list(self.iam_allowed_principals)
        if not entries:
            return [
                "CALLER_AUTH includes iam but IAM_ALLOWED_PRINCIPALS is not set: list the members who may call"
                " (serviceAccount:EMAIL, user:EMAIL); iam refuses everyone until it is set."
            ]
        # Positions only: the entries are not secret, but this answer goes to callers not yet known.
        bad = [str(n) for n, entry in enumerate(entries, 1) if not _IAM_MEMBER.fullmatch(entry)]
        if bad:
            return [
                f"IAM_ALLOWED_PRINCIPALS entry {', '.join(bad)} is not serviceAccount:EMAIL, user:EMAIL or an email"
                " (an ID token names its email only: group:, domain: and principalSet: members cannot be checked)."
            ]
        return []


# An allow-list entry: an IAM member of a single identity as Terraform and gcloud write
# it, or the bare email.
_IAM_MEMBER = re.compile(r"((?:serviceAccount|user):)?([^\s:,@]+@[^\s:,@]+)")


def _comma_list(value: str | None) -> list[str]:
    return [entry.strip() for entry in (value or "").replace("\n", ",").split(",") if entry.strip()]


# A secret's name in WEBHOOK_SECRET, as API_KEYS names keys (function/callers/auth.py):
# a letter first, so that base64 padding ("whsec_abc=") is never read as a name.
_SECRET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")


def _are_webhook_secrets(value: str) -> bool:
    """Whether every comma- or newline-separated entry is ``whsec_...`` or ``name=whsec_...``."""
    secrets = []
    for entry in _comma_list(value):
        name, sep, secret = entry.partition("=")
        named = sep and secret and not secret.startswith("=") and _SECRET_NAME.fullmatch(name.strip())
        secrets.append(secret.strip() if named else entry)
    return bool(secrets) and all(_is_webhook_secret(secret) for secret in secrets)


def _is_webhook_secret(value: str) -> bool:
    body = value.removeprefix("whsec_")
    return bool(re.fullmatch(r"[A-Za-z0-9+/]{16,}={0,2}", body))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Validate ``environ`` (default: the process environment) into Settings.

    Raises NotConfigured naming every bad variable; no value is echoed, since some of
    them are secrets.
    """
    env = os.environ if environ is None else environ
    names = {
        alias for field in Settings.model_fields.values() for alias in _aliases(field.alias, field.validation_alias)
    }
    try:
        # A variable set to "" (common in Terraform and .env files) means "not set".
        return Settings.model_validate({k: v for k, v in env.items() if k in names and v.strip()})
    except ValidationError as exc:
        details = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "settings"
            details.append(f"{name}: {error['msg']}")
        raise NotConfigured("Invalid settings. " + "; ".join(details)) from None


def _aliases(alias: str | None, validation_alias: object) -> list[str]:
    if isinstance(validation_alias, AliasChoices):
        return [c for c in validation_alias.choices if isinstance(c, str)]
    return [alias] if alias else []


_lock = threading.Lock()
_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = load_settings()
    return _cached


def clear_cache() -> None:
    """Forget the settings so that the next call re-reads the environment (tests)."""
    global _cached
    with _lock:
        _cached = None
