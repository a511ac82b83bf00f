"""The CEC AK/SK: from a mounted secret file, from Secret Manager (cached), or from the environment.

``CEC_CREDENTIALS_FILE`` is the cold-path choice: Cloud Run fetches a secret mounted as
a volume from Secret Manager on each read of the file, so reading it costs no client
library (google-cloud-secret-manager and gRPC are about a quarter of a second of
imports on a cold instance) and still follows ``latest`` and rotation. Both secret
sources are cached for ``SECRET_CACHE_TTL_SECONDS`` and read again once when
tokenByAkSk rejects what they gave.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from function import log, redact
from function.budget import Deadline
from function.errors import Misconfigured, SecretUnavailable
from function.secret_manager import SecretReader
from function.settings import Settings

# A credentials file is a few hundred bytes; reading more is a wrong path, not a secret.
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class CecCredentials:
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    source: str


class CredentialFile:
    """The payload of ``path``, cached for ``ttl_seconds``; one reader at a time."""

    def __init__(self, path: str, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._cached: tuple[bytes, float] | None = None
        self._lock = threading.Lock()

    def read(self) -> bytes:
        with self._lock:
            if self._cached is not None and self._cached[1] > self._clock():
                return self._cached[0]
            started = time.monotonic()
            try:
                with open(self.path, "rb") as handle:
                    payload = handle.read(MAX_FILE_BYTES + 1)
            except OSError as exc:
                # The path is configuration, not a secret; the OS error names the kind.
                reason = type(exc).__name__
                log.event(40, "secret read failed", setting="CEC_CREDENTIALS_FILE", reason=reason)
                raise SecretUnavailable(
                    f"The file named by CEC_CREDENTIALS_FILE could not be read ({reason}): check that the"
                    " secret is mounted there and the runtime service account may access it."
                ) from None
            if len(payload) > MAX_FILE_BYTES:
                raise Misconfigured(f"The file named by CEC_CREDENTIALS_FILE is over {MAX_FILE_BYTES} bytes.")
            log.event(
                20,
                "secret read",
                setting="CEC_CREDENTIALS_FILE",
                durationMs=round((time.monotonic() - started) * 1000, 1),
            )
            if self.ttl_seconds > 0:
                self._cached = (payload, self._clock() + self.ttl_seconds)
            return payload

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None


class CredentialProvider:
    def __init__(self, settings: Settings, secrets: SecretReader, file: CredentialFile | None = None) -> None:
        self._file = file
        if self._file is None and settings.cec_credentials_file:
            self._file = CredentialFile(settings.cec_credentials_file, ttl_seconds=settings.secret_cache_ttl_seconds)
        self._secret_name = None if self._file is not None else settings.cec_credentials_secret
        self._env: CecCredentials | None = None
        if self._file is None and not self._secret_name and settings.cec_app_key and settings.cec_app_secret:
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
        return self._file is not None or self._secret_name is not None

    def get(self, deadline: Deadline) -> CecCredentials:
        if self._env is not None:
            return self._env
        if self._file is not None:
            credentials = _parse(self._file.read(), self._file.path, "CEC_CREDENTIALS_FILE")
            # Masked wherever upstream text is echoed, like the Secret Manager source's.
            redact.register("cec_credentials", [credentials.app_key, credentials.app_secret])
            return credentials
        assert self._secret_name is not None  # settings.missing() guarantees one source
        payload = self._secrets.read(self._secret_name, deadline=deadline, setting="CEC_CREDENTIALS_SECRET")
        credentials = _parse(payload, self._secret_name, "CEC_CREDENTIALS_SECRET")
        redact.register("cec_credentials", [credentials.app_key, credentials.app_secret])
        return credentials

    def refresh(self, deadline: Deadline) -> CecCredentials:
        """Drop the cached secret and read it again (after the API rejected it)."""
        if self._file is not None:
            self._file.invalidate()
        elif self._secret_name is not None:
            self._secrets.invalidate(self._secret_name)
        return self.get(deadline)


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
