"""Caller authentication: API keys, Standard Webhooks signatures, Cloud Run IAM, or none.

``CALLER_AUTH`` lists the accepted methods; a request passes when any of them accepts
it. A failure says, per method, what was wrong with what the caller sent, so that a
workflow author can fix the request; it never says what would have been right.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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


@dataclass(frozen=True)
class Caller:
    method: str  # the CALLER_AUTH method that accepted the request
    scope: str  # tells callers apart without revealing a credential


def _digest(value: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison constant-time in the
    # length of the key as well as in its content.
    return hashlib.sha256(value.encode("utf-8")).digest()


def parse_api_keys(text: str) -> list[str]:
    """Keys from a JSON list of strings, or from a comma- or newline-separated list."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, list):
            return [k.strip() for k in data if isinstance(k, str) and k.strip()]
    return [k.strip() for k in stripped.replace("\n", ",").split(",") if k.strip()]


class CallerAuthenticator:
    def __init__(self, settings: Settings, secrets: SecretReader) -> None:
        self.methods = settings.caller_auth
        self._settings = settings
        self._secrets = secrets
        self._static_keys: list[bytes] | None = None
        if settings.api_keys is not None:
            self._static_keys = [_digest(k) for k in parse_api_keys(settings.api_keys.get_secret_value())]
        self._webhook: Webhook | None = None
        if "webhook" in self.methods and settings.webhook_secret is not None:
            self._webhook = Webhook(settings.webhook_secret.get_secret_value())

    def authenticate(self, headers: HeaderLookup, body: bytes, deadline: Deadline) -> Caller:
        """Who is calling, by the first method that accepts the request; raises Unauthenticated."""
        reasons: list[str] = []
        for method in self.methods:
            if method in ("iam", "none"):
                if method == "none":
                    log.event(30, NONE_WARNING)
                return Caller(method, method)
            if method == "api_key":
                reason = self._check_api_key(headers, deadline)
                if reason is None:
                    # A digest prefix tells keys apart (for idempotency scopes) without revealing them.
                    return Caller(method, "api_key:" + _digest((headers.get(API_KEY_HEADER) or "").strip()).hex()[:16])
            else:
                reason = self._check_webhook(headers, body)
                if reason is None:
                    return Caller(method, "webhook")
            reasons.append(reason)
        raise Unauthenticated("; ".join(reasons) + ".")

    def _api_keys(self, deadline: Deadline) -> list[bytes]:
        if self._static_keys is not None:
            return self._static_keys
        assert self._settings.api_keys_secret is not None
        payload = self._secrets.read(self._settings.api_keys_secret, deadline=deadline, setting="API_KEYS_SECRET")
        return [_digest(k) for k in parse_api_keys(payload.decode("utf-8", errors="replace"))]

    def _check_api_key(self, headers: HeaderLookup, deadline: Deadline) -> str | None:
        given = headers.get(API_KEY_HEADER)
        if not given:
            return f"api_key: no {API_KEY_HEADER} header"
        candidate = _digest(given.strip())
        matched = False
        for key in self._api_keys(deadline):
            # No early exit: the time taken must not tell which key came close.
            matched |= hmac.compare_digest(candidate, key)
        return None if matched else f"api_key: the {API_KEY_HEADER} header does not match a configured key"

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
