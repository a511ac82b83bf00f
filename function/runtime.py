"""The per-instance objects (settings, caches, pooled session), built on first use.

Nothing is created at import time, so loading the function is cheap and a bad
setting surfaces as a 503 on a request rather than as a crash at start-up.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from function import log, redact
from function.callers.audit import SigningCredentials
from function.callers.auth import CallerAuthenticator
from function.callers.guards import Guards
from function.cec.client import CecClient
from function.cec.tokens import TokenProvider
from function.cec.transport import Transport
from function.errors import NotConfigured
from function.secret_manager import SecretReader
from function.settings import Settings, get_settings
from function.settings import clear_cache as clear_settings_cache
from function.state.idempotency import IdempotencyStore, build_store


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    secrets: SecretReader
    authenticator: CallerAuthenticator
    tokens: TokenProvider
    client: CecClient
    transport: Transport
    idempotency: IdempotencyStore | None
    guards: Guards  # plan tokens, caller policies, protected hotlines (issue 13)


_lock = threading.Lock()
_runtime: Runtime | None = None


def build(settings: Settings) -> Runtime:
    problems = settings.missing()
    if problems:
        raise NotConfigured(" ".join(problems))
    secrets = SecretReader(
        endpoint=settings.secret_manager_endpoint,
        timeout_seconds=settings.secret_timeout_seconds,
        ttl_seconds=settings.secret_cache_ttl_seconds,
    )
    transport = Transport(
        timeout_seconds=settings.cec_timeout_seconds,
        max_retries=settings.cec_max_retries,
        pool_size=connection_pool_size(settings),
    )
    tokens = TokenProvider(transport=transport, url=settings.token_url, ttl_seconds=settings.cec_token_ttl_seconds)
    credentials = SigningCredentials(settings, secrets)
    client = CecClient(
        base_url=settings.api_base_url,
        transport=transport,
        tokens=tokens,
        credentials=credentials,
        app_key_header=settings.cec_app_key_header,
    )
    return Runtime(
        settings=settings,
        secrets=secrets,
        authenticator=CallerAuthenticator(settings, secrets),
        tokens=tokens,
        client=client,
        transport=transport,
        idempotency=build_store(settings),
        guards=Guards(settings, secrets),
    )


def connection_pool_size(settings: Settings) -> int:
    """Connections to keep: every gunicorn thread (THREADS, functions-framework's
    default 4 per CPU) may have CEC_LOOKUP_CONCURRENCY pages in flight; a smaller pool
    would open and drop connections under load instead of reusing them."""
    threads = settings.threads or (os.cpu_count() or 1) * 4
    return max(16, min(256, threads * settings.cec_lookup_concurrency))


def get_runtime() -> Runtime:
    """The instance's runtime; raises NotConfigured while the settings are incomplete."""
    global _runtime
    runtime = _runtime
    if runtime is None:
        with _lock:
            if _runtime is None:
                settings = get_settings()
                log.set_level(settings.log_level)
                _runtime = build(settings)
            runtime = _runtime
    return runtime


def clear_cache() -> None:
    """Drop settings, secrets, token, connections and known secret values; the next request rebuilds them."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.transport.close()
            if _runtime.idempotency is not None:
                _runtime.idempotency.clear_cache()
        _runtime = None
    clear_settings_cache()
    redact.clear_cache()
