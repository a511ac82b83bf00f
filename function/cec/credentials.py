"""The CEC AK/SK: from a mounted secret file, from Secret Manager (cached), or from the environment.

``CEC_CREDENTIALS_FILE`` (a mounted secret) is the cold-path choice and
``CEC_CREDENTIALS_SECRET`` reads it with the client library (function/secret_source.py
says why). Either is cached for ``SECRET_CACHE_TTL_SECONDS`` and read again once when
tokenByAkSk rejects what it gave.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field

from function import redact
from function.budget import Deadline
from function.errors import Misconfigured
from function.secret_manager import SecretReader
from function.secret_source import secret_source
from function.settings import Settings


@dataclass(frozen=True)
class CecCredentials:
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    source: str


class CredentialProvider:
    def __init__(self, settings: Settings, secrets: SecretReader) -> None:
        self._source = secret_source(
            "CEC_CREDENTIALS",
            file=settings.cec_credentials_file,
            secret=settings.cec_credentials_secret,
            reader=secrets,
            ttl_seconds=settings.secret_cache_ttl_seconds,
            mask=_mask_credentials,
        )
        self._env: CecCredentials | None = None
        if self._source is None and settings.cec_app_key and settings.cec_app_secret:
            self._env = CecCredentials(
                settings.cec_app_key.get_secret_value(),
                settings.cec_app_secret.get_secret_value(),
                source="CEC_APP_KEY/CEC_APP_SECRET",
            )
            redact.register("cec_credentials", [self._env.app_key, self._env.app_secret])
        # The last payload read and what it parsed to: the source caches bytes, and
        # parsing and registering them again on every request cost more than the rest
        # of this lookup. Another payload (a rotation) is parsed and registered with
        # the masking registry when it first appears.
        self._parsed: tuple[bytes, CecCredentials] | None = None

    @property
    def can_refresh(self) -> bool:
        """Whether re-reading may give different credentials (only a secret can change)."""
        return self._source is not None

    def get(self, deadline: Deadline) -> CecCredentials:
        if self._env is not None:
            return self._env
        assert self._source is not None  # settings.missing() guarantees one source
        payload = self._source.read(deadline)
        cached = self._parsed
        if cached is not None and hmac.compare_digest(cached[0], payload):
            return cached[1]
        credentials = _parse(payload, self._source.label, self._source.setting)
        # Masked wherever upstream text is echoed, before anything is sent with them.
        redact.register("cec_credentials", [credentials.app_key, credentials.app_secret])
        self._parsed = (payload, credentials)
        return credentials

    def refresh(self, deadline: Deadline) -> CecCredentials:
        """Drop the cached secret and read it again (after the API rejected it)."""
        if self._source is not None:
            self._source.invalidate()
        return self.get(deadline)


def _mask_credentials(payload: bytes) -> None:
    """Masks the AK/SK of a payload as it arrives; a malformed one is refused by _parse later."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return
    if isinstance(data, dict):
        values = [data.get("app_key"), data.get("app_secret")]
        redact.register("cec_credentials", [v.strip() for v in values if isinstance(v, str)])


def _parse(payload: bytes, name: str, setting: str) -> CecCredentials:
    problem = (
        f"The secret {name} ({setting}) must hold JSON"
        ' {"app_key": "...", "app_secret": "..."} with two non-empty strings'
    )
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        # Never quote the payload: it is the secret.
        raise Misconfigured(problem + "; it is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Misconfigured(problem + "; it is not a JSON object.")
    missing = [k for k in ("app_key", "app_secret") if not (isinstance(data.get(k), str) and data[k].strip())]
    if missing:
        raise Misconfigured(problem + f"; {' and '.join(missing)} missing or empty.")
    return CecCredentials(data["app_key"].strip(), data["app_secret"].strip(), source=name)
