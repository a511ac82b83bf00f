"""Caller authentication: API keys, Standard Webhooks signatures, Cloud Run IAM, or none.

``CALLER_AUTH`` lists the accepted methods; a request passes when any of them accepts
it. A failure says, per method, what was wrong with what the caller sent, so that a
workflow author can fix the request; it never says what would have been right.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from function import log
from function.budget import Deadline
from function.errors import Unauthenticated
from function.log import HeaderLookup
from function.secret_manager import SecretReader
from function.settings import Settings

API_KEY_HEADER = "X-API-Key"
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
NONE_WARNING = (
    "CALLER_AUTH=none: this function accepts requests from anyone."
    " Use it only for local runs, never for a deployed function."
)


# A name in ``API_KEYS`` entries written ``name=key``; the first character is a letter,
# so that a base64 key with padding (``abc=``) is never mistaken for a name.
_KEY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
# Cloud Run passes the verified ID token on; a JWT of a few KiB at most.
MAX_ID_TOKEN_CHARS = 16384
IAM_IDENTITY_HEADERS = ("X-Serverless-Authorization", "Authorization")


@dataclass(frozen=True)
class Caller:
    """Who called, as far as the accepting method can tell.

    ``principal`` names the caller in logs, audit records and policies
    (``api_key:<name>``, ``webhook``, ``iam:<email>``, ``none``); ``scope`` keeps
    callers' idempotency keys apart. Neither ever contains a credential.
    """

    method: str  # the CALLER_AUTH method that accepted the request
    principal: str
    scope: str


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes


def _digest(value: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison constant-time in the
    # length of the key as well as in its content.
    return hashlib.sha256(value.encode("utf-8")).digest()


def parse_api_keys(text: str) -> list[str]:
    """Entries from a JSON list of strings, or from a comma- or newline-separated list."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, list):
            return [k.strip() for k in data if isinstance(k, str) and k.strip()]
    return [k.strip() for k in stripped.replace("\n", ",").split(",") if k.strip()]


def key_fingerprint(key: str) -> str:
    """The name of an unnamed key: ``key-`` and 12 hex digits of its SHA-256, never the key."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def named_keys(text: str) -> list[ApiKey]:
    """``name=key`` entries keep their name; a bare key is named by its fingerprint."""
    keys: list[ApiKey] = []
    for entry in parse_api_keys(text):
        name, sep, key = entry.partition("=")
        if sep and key and not key.startswith("=") and _KEY_NAME.match(name.strip()):
            name, key = name.strip(), key.strip()
        else:
            name, key = key_fingerprint(entry), entry
        if key:
            keys.append(ApiKey(name, _digest(key)))
    return keys


def iam_identity(headers: HeaderLookup) -> str:
    """The caller's email (else ``sub``) from the ID token Cloud Run has verified.

    Cloud Run checks the token's signature before the request reaches the container
    and passes the token on with the signature removed, so only its payload is read
    here. Returns "anonymous" when no token is readable (a local run).
    """
    for name in IAM_IDENTITY_HEADERS:
        value = headers.get(name) or ""
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > MAX_ID_TOKEN_CHARS:
            continue
        parts = token.strip().split(".")
        if len(parts) < 2:
            continue
        try:
            payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, binascii.Error, RecursionError):
            continue
        if not isinstance(payload, dict):
            continue
        for claim in ("email", "sub"):
            identity = payload.get(claim)
            if isinstance(identity, str) and 0 < len(identity) <= 254 and identity.isprintable():
                return identity
    return "anonymous"


class CallerAuthenticator:
    def __init__(self, settings: Settings, secrets: SecretReader) -> None:
        self.methods = settings.caller_auth
        self._settings = settings
        self._secrets = secrets
        self._static_keys: list[ApiKey] | None = None
        if settings.api_keys is not None:
            self._static_keys = named_keys(settings.api_keys.get_secret_value())
        self._webhook: Webhook | None = None
        if "webhook" in self.methods and settings.webhook_secret is not None:
            self._webhook = Webhook(settings.webhook_secret.get_secret_value())

    def authenticate(self, headers: HeaderLookup, body: bytes, deadline: Deadline) -> Caller:
        """Who is calling, by the first method that accepts the request; raises Unauthenticated."""
        reasons: list[str] = []
        for method in self.methods:
            if method == "none":
                log.event(30, NONE_WARNING)
                return Caller(method, "none", "none")
            if method == "iam":
                principal = "iam:" + iam_identity(headers)
                return Caller(method, principal, principal)
            if method == "api_key":
                name, reason = self._check_api_key(headers, deadline)
                if name is not None:
                    return Caller(method, "api_key:" + name, "api_key:" + name)
            else:
                webhook_reason = self._check_webhook(headers, body)
                if webhook_reason is None:
                    return Caller(method, "webhook", "webhook")
                reason = webhook_reason
            reasons.append(reason)
        raise Unauthenticated("; ".join(reasons) + ".")

    def _api_keys(self, deadline: Deadline) -> list[ApiKey]:
        if self._static_keys is not None:
            return self._static_keys
        assert self._settings.api_keys_secret is not None
        payload = self._secrets.read(self._settings.api_keys_secret, deadline=deadline, setting="API_KEYS_SECRET")
        return named_keys(payload.decode("utf-8", errors="replace"))

    def _check_api_key(self, headers: HeaderLookup, deadline: Deadline) -> tuple[str | None, str]:
        """(the matching key's name, or None; the reason when none matched)."""
        given = headers.get(API_KEY_HEADER)
        if not given:
            return None, f"api_key: no {API_KEY_HEADER} header"
        candidate = _digest(given.strip())
        matched: str | None = None
        for key in self._api_keys(deadline):
            # No early exit: the time taken must not tell which key came close.
            if hmac.compare_digest(candidate, key.digest) and matched is None:
                matched = key.name
        return matched, f"api_key: the {API_KEY_HEADER} header does not match a configured key"

    def _check_webhook(self, headers: HeaderLookup, body: bytes) -> str | None:
        assert self._webhook is not None
        present = {name: headers.get(name, "") for name in WEBHOOK_HEADERS}
        missing = [name for name, value in present.items() if not value]
        if missing:
            return f"webhook: missing header {', '.join(missing)}"
        try:
            self._webhook.verify(body, present, json_parse=False)
        except WebhookVerificationError as exc:
            return f"webhook: {_webhook_reason(str(exc))}"
        except ValueError:
            # The library raises plain ValueError for a signature without a comma,
            # bad base64 or a body that is not UTF-8.
            return (
                "webhook: the webhook-signature header is malformed"
                " (expected 'v1,<base64>' entries separated by spaces)"
            )
        return None


def _webhook_reason(message: str) -> str:
    known = {
        "Message timestamp too old": "webhook-timestamp is more than 5 minutes old",
        "Message timestamp too new": "webhook-timestamp is more than 5 minutes in the future",
        "Invalid Signature Headers": "webhook-timestamp is not a Unix time in seconds",
        "No matching signature found": "no webhook-signature matches the body",
    }
    return known.get(message, "the signature could not be verified")
