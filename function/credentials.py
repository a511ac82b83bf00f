"""The CEC AK/SK: from Secret Manager (cached) or from the environment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from function import redact
from function.budget import Deadline
from function.errors import Misconfigured
from function.secret_manager import SecretReader
from function.settings import Settings


@dataclass(frozen=True)
class CecCredentials:
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    source: str


class CredentialProvider:
    def __init__(self, settings: Settings, secrets: SecretReader) -> None:
        self._secret_name = settings.cec_credentials_secret
        self._env: CecCredentials | None = None
        if not self._secret_name and settings.cec_app_key and settings.cec_app_secret:
            self._env = CecCredentials(
                settings.cec_app_key.get_secret_value(),
                settings.cec_app_secret.get_secret_value(),
                source="CEC_APP_KEY/CEC_APP_SECRET",
            )
            redact.register("cec_credentials", [self._env.app_key, self._env.app_secret])
        self._secrets = secrets

    @property
    def can_refresh(self) -> bool:
        """Whether re-reading may give different credentials (only a secret can change)."""
        return self._secret_name is not None

    def get(self, deadline: Deadline) -> CecCredentials:
        if self._env is not None:
            return self._env
        assert self._secret_name is not None  # settings.missing() guarantees one source
        payload = self._secrets.read(self._secret_name, deadline=deadline, setting="CEC_CREDENTIALS_SECRET")
        credentials = _parse(payload, self._secret_name)
        redact.register("cec_credentials", [credentials.app_key, credentials.app_secret])
        return credentials

    def refresh(self, deadline: Deadline) -> CecCredentials:
        """Drop the cached secret and read it again (after the API rejected it)."""
        if self._secret_name is not None:
            self._secrets.invalidate(self._secret_name)
        return self.get(deadline)


def _parse(payload: bytes, name: str) -> CecCredentials:
    problem = (
        f"The secret {name} (CEC_CREDENTIALS_SECRET) must hold JSON"
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
