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
import time
from collections.abc import Callable
from dataclasses import dataclass

from function import log, redact
from function.budget import Deadline
from function.callers.iam import IamRejected, IamVerifier
from function.callers.policies import Forbidden
from function.errors import FunctionError, Misconfigured, NotConfigured, SecretUnavailable, Unauthenticated
from function.log import HeaderLookup
from function.secret_manager import SecretReader
from function.secret_source import secret_source
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

# Only ASCII whitespace is trimmed from a key: NBSP, NEL and the like are part of
# what was sent, and a key with them is another key.
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
# Caller secrets are read before the caller is known: whatever SECRET_CACHE_TTL_SECONDS
# says, they are kept at least this long, so unauthenticated requests cannot make
# each a Secret Manager read.
CALLER_SECRET_MIN_TTL_SECONDS = 60.0

# Standard Webhooks: "v1," and the base64 of an HMAC-SHA256 (32 bytes: 43 characters
# and one "="), exactly; the timestamp is Unix seconds in decimal digits.
WEBHOOK_TOLERANCE_SECONDS = 300
MAX_WEBHOOK_SIGNATURES = 8
_V1_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{43}=")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Caller:
    """Who called, as far as the accepting method can tell.

    ``principal`` names the caller in logs, audit records and policies
    (``api_key:<name>``, ``webhook`` or ``webhook:<name>``, ``iam:<email>``, ``none``); ``scope`` keeps
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
            return [k.strip(ASCII_WHITESPACE) for k in data if isinstance(k, str) and k.strip(ASCII_WHITESPACE)]
    entries = stripped.replace("\n", ",").split(",")
    return [k.strip(ASCII_WHITESPACE) for k in entries if k.strip(ASCII_WHITESPACE)]


def key_fingerprint(key: str) -> str:
    """The name of an unnamed key: ``key-`` and 12 hex digits of its SHA-256, never the key."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _key_entries(text: str) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    for entry in parse_api_keys(text):
        name, sep, key = entry.partition("=")
        if sep and key and not key.startswith("=") and _KEY_NAME.match(name.strip(ASCII_WHITESPACE)):
            name, key = name.strip(ASCII_WHITESPACE), key.strip(ASCII_WHITESPACE)
        else:
            name, key = key_fingerprint(entry), entry
        if key:
            entries.append((name, key))
    return entries


def _registered_entries(text: str) -> list[tuple[str, str]]:
    """The (name, key) entries of ``text``, their keys registered with the masking registry."""
    entries = _key_entries(text)
    redact.register("api_keys", [key for _, key in entries])
    return entries


def mask_api_keys(payload: bytes) -> None:
    """Masks the keys of an API-keys payload as it arrives, before anything logs the read."""
    _registered_entries(payload.decode("utf-8", errors="replace"))


def named_keys(text: str) -> list[ApiKey]:
    """``name=key`` entries keep their name; a bare key is named by its fingerprint."""
    return [ApiKey(name, _digest(key)) for name, key in _registered_entries(text)]


def webhook_key(secret: str) -> bytes | None:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64), or None when unusable."""
    body = secret.strip(ASCII_WHITESPACE).removeprefix("whsec_")
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


@dataclass(frozen=True)
class WebhookKey:
    principal: str  # "webhook" for an unnamed secret, "webhook:<name>" for a named one
    key: bytes


def webhook_keys(text: str) -> list[WebhookKey]:
    """The HMAC keys of WEBHOOK_SECRET's entries, ``whsec_...`` or ``name=whsec_...``.

    The entries are separated as API_KEYS entries are; each secret is registered for
    masking. Raises NotConfigured when an entry is unusable or there is none.
    """
    keys: list[WebhookKey] = []
    for name, secret in _key_entries(text):
        redact.register("webhook_secret", [secret, secret.removeprefix("whsec_")])
        key = webhook_key(secret)
        if key is None:
            raise NotConfigured("WEBHOOK_SECRET is not usable: each entry must be whsec_ followed by valid base64.")
        keys.append(WebhookKey("webhook" if name == key_fingerprint(secret) else "webhook:" + name, key))
    if not keys:
        raise NotConfigured("WEBHOOK_SECRET holds no secret.")
    return keys


def _as_sent(value: str) -> bytes:
    """A header value's bytes as the caller sent them: WSGI servers hand them over
    decoded as latin-1, so a UTF-8 webhook-id is those bytes again, not UTF-8 twice."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server: already text
        return value.encode("utf-8", errors="surrogateescape")


class CallerAuthenticator:
    def __init__(self, settings: Settings, secrets: SecretReader, *, clock: Callable[[], float] = time.time) -> None:
        self.methods = settings.caller_auth
        self._clock = clock
        self._static_keys: list[ApiKey] | None = None
        self._keys_source = secret_source(
            "API_KEYS",
            file=settings.api_keys_file,
            secret=settings.api_keys_secret,
            reader=secrets,
            ttl_seconds=settings.secret_cache_ttl_seconds,
            min_ttl_seconds=CALLER_SECRET_MIN_TTL_SECONDS,
            mask=mask_api_keys,
        )
        # The keys parsed from the last payload read: hashing every key again on each
        # request would cost CPU in proportion to the number of keys for nothing.
        self._parsed_keys: tuple[bytes, list[ApiKey]] | None = None
        if settings.api_keys is not None:
            self._static_keys = named_keys(settings.api_keys.get_secret_value())
            if "api_key" in self.methods and not self._static_keys:
                raise NotConfigured("API_KEYS holds no usable key: set it to one or more keys (or name=key entries).")
        self._iam = IamVerifier(settings) if "iam" in self.methods else None
        self._webhook_keys: list[WebhookKey] = []
        if "webhook" in self.methods and settings.webhook_secret is not None:
            self._webhook_keys = webhook_keys(settings.webhook_secret.get_secret_value())

    def authenticate(self, headers: HeaderLookup, body: bytes, deadline: Deadline) -> Caller:
        """Who is calling, by the first method that accepts the request; raises Unauthenticated."""
        reasons: list[str] = []
        # A method that could not check the request (its secret unreadable) does not
        # stop the others: only when none accepts is its failure the answer.
        failures: list[FunctionError] = []
        for method in self.methods:
            if method == "none":
                log.event(30, NONE_WARNING)
                return Caller(method, "none", "none")
            if method == "iam":
                assert self._iam is not None
                try:
                    principal = "iam:" + self._iam.identify(headers, deadline)
                except IamRejected as exc:
                    reasons.append(exc.reason)
                    continue
                except (Forbidden, NotConfigured) as exc:
                    failures.append(exc)
                    reasons.append(f"iam: refused ({exc.code})")
                    continue
                return Caller(method, principal, principal)
            if method == "api_key":
                try:
                    name, reason = self._check_api_key(headers, deadline)
                except (SecretUnavailable, NotConfigured, Misconfigured) as exc:
                    failures.append(exc)
                    reasons.append(f"api_key: the keys could not be read ({exc.code})")
                    continue
                if name is not None:
                    return Caller(method, "api_key:" + name, "api_key:" + name)
            else:
                signer, reason = self._check_webhook(headers, body)
                if signer is not None:
                    return Caller(method, signer, signer)
            reasons.append(reason)
        if failures:
            raise failures[0]
        raise Unauthenticated("; ".join(reasons) + ".")

    def _api_keys(self, deadline: Deadline) -> list[ApiKey]:
        if self._static_keys is not None:
            return self._static_keys
        assert self._keys_source is not None  # settings.missing() guarantees a source
        payload = self._keys_source.read(deadline)
        parsed = self._parsed_keys
        if parsed is not None and hmac.compare_digest(parsed[0], payload):
            return parsed[1]
        keys = named_keys(payload.decode("utf-8", errors="replace"))
        if not keys:
            raise NotConfigured(f"The secret named by {self._keys_source.setting} holds no usable key.")
        self._parsed_keys = (payload, keys)
        return keys

    def _check_api_key(self, headers: HeaderLookup, deadline: Deadline) -> tuple[str | None, str]:
        """(the matching key's name, or None; the reason when none matched)."""
        given = headers.get(API_KEY_HEADER)
        if not given:
            return None, f"api_key: no {API_KEY_HEADER} header"
        candidate = _digest(given.strip(ASCII_WHITESPACE))
        matched: str | None = None
        for key in self._api_keys(deadline):
            # No early exit: the time taken must not tell which key came close.
            if hmac.compare_digest(candidate, key.digest) and matched is None:
                matched = key.name
        return matched, f"api_key: the {API_KEY_HEADER} header does not match a configured key"

    def keys_known_unusable(self) -> bool:
        """Whether the API-keys secret, as last read, holds no usable key. Never waits
        (/healthz): a mounted file not read yet is read in the background."""
        if "api_key" not in self.methods or self._keys_source is None:
            return False
        payload = self._keys_source.peek()
        return payload is not None and not _key_entries(payload.decode("utf-8", errors="replace"))

    def _check_webhook(self, headers: HeaderLookup, body: bytes) -> tuple[str | None, str]:
        """(the principal of the secret whose signature holds, or None; the reason when none does).

        Verified here, strictly, rather than by the standardwebhooks library, which
        decodes base64 leniently (junk inside or after a signature passed), reads the
        timestamp with int() (which takes "+1700000000" and Unicode digits) and
        decodes the body as UTF-8 before signing (so a signed non-UTF-8 body failed
        as a bad signature instead of reaching the JSON check).
        """
        assert self._webhook_keys
        present = {name: headers.get(name, "") for name in WEBHOOK_HEADERS}
        missing = [name for name, value in present.items() if not value]
        if missing:
            return None, f"webhook: missing header {', '.join(missing)}"
        msg_id, timestamp, signatures = (present[name] for name in WEBHOOK_HEADERS)
        if not _TIMESTAMP.fullmatch(timestamp):
            return None, "webhook: webhook-timestamp is not a Unix time in seconds (decimal digits only)"
        age = self._clock() - int(timestamp)
        if age > WEBHOOK_TOLERANCE_SECONDS:
            return None, "webhook: webhook-timestamp is more than 5 minutes old"
        if age < -WEBHOOK_TOLERANCE_SECONDS:
            return None, "webhook: webhook-timestamp is more than 5 minutes in the future"
        signed = _as_sent(msg_id) + b"." + timestamp.encode("ascii") + b"." + body
        expected = [(key.principal, hmac.new(key.key, signed, hashlib.sha256).digest()) for key in self._webhook_keys]
        matched: str | None = None
        malformed = False
        entries = signatures.split(" ")
        for entry in entries[:MAX_WEBHOOK_SIGNATURES]:
            if not entry:
                continue
            version, sep, signature = entry.partition(",")
            if not sep:
                malformed = True
                continue
            if version != "v1":
                continue  # other schemes (v1a: asymmetric) are not ours to check
            if not _V1_SIGNATURE.fullmatch(signature):
                malformed = True
                continue
            decoded = base64.b64decode(signature, validate=True)
            if base64.b64encode(decoded).decode("ascii") != signature:
                malformed = True  # non-canonical: stray bits in the last character
                continue
            # No early exit: the time taken must not tell which entry or secret came close.
            for principal, digest in expected:
                if hmac.compare_digest(decoded, digest) and matched is None:
                    matched = principal
        if matched is not None:
            return matched, ""
        if malformed or len(entries) > MAX_WEBHOOK_SIGNATURES:
            return None, (
                "webhook: the webhook-signature header is malformed"
                " (expected 'v1,<base64 of 32 bytes>' entries separated by spaces)"
            )
        return None, "webhook: no webhook-signature matches the body"
