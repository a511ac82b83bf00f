"""Masking the secret values this instance knows in any text that came from outside.

An upstream may quote what it was sent (a CEC ``description`` that repeats the AK/SK
or the token); that text reaches answers and logs. Every secret the function reads
is registered here under a kind, and every upstream string is passed through
:func:`mask` before it is used. Adding a new kind of secret (plan signing keys, say)
is one :func:`register` call where it is read; nothing else changes.

Each kind keeps its last few generations, so that a rotated AK/SK or a renewed token
is still masked while an answer that quotes the old one is in flight; the registry
stays small (a handful of kinds times a few generations).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterable

REPLACEMENT = "[redacted]"
# Shorter values are not masked: masking "ab" would garble every text, and a secret
# that short is not a secret. Settings and secrets are far longer in practice.
MIN_SECRET_CHARS = 6
GENERATIONS = 3


class SecretRegistry:
    def __init__(self, generations: int = GENERATIONS) -> None:
        self._generations = generations
        self._lock = threading.Lock()
        self._kinds: dict[str, deque[frozenset[str]]] = {}
        # The pattern and the values it matches, replaced together (one reference) so
        # that a reader never sees one without the other.
        self._compiled: tuple[re.Pattern[str], tuple[str, ...]] | None = None

    def register(self, kind: str, values: Iterable[str]) -> None:
        """Add a generation of ``kind`` (e.g. ``cec_token``); empty and short values are ignored."""
        usable = [v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_CHARS]
        # Also as JSON writes it (a quote or backslash escaped), since log lines are
        # masked after serialisation.
        generation = frozenset(usable) | {json.dumps(v, ensure_ascii=False)[1:-1] for v in usable}
        if not generation:
            return
        with self._lock:
            history = self._kinds.setdefault(kind, deque(maxlen=self._generations))
            if history and history[-1] == generation:
                return
            history.append(generation)
            self._compiled = self._compile()

    def _compile(self) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
        values = {v for history in self._kinds.values() for generation in history for v in generation}
        if not values:
            return None
        # Longest first, so a secret that contains another is masked whole.
        ordered = tuple(sorted(values, key=len, reverse=True))
        return re.compile("|".join(re.escape(v) for v in ordered)), ordered

    def mask(self, text: str) -> str:
        compiled = self._compiled
        if compiled is None or not text:
            return text
        pattern, values = compiled
        # Almost every text holds no secret: a substring test per value (C's fast
        # search) tells so in a fraction of the time the alternation takes to scan
        # the text; the pattern runs only when some value occurs, and then masks
        # exactly as before.
        for value in values:
            if value in text:
                return pattern.sub(REPLACEMENT, text)
        return text

    def clear(self) -> None:
        with self._lock:
            self._kinds.clear()
            self._compiled = None


_registry = SecretRegistry()


def register(kind: str, values: Iterable[str]) -> None:
    _registry.register(kind, values)


def mask(text: str) -> str:
    """``text`` with every known secret value replaced by ``[redacted]``."""
    return _registry.mask(text)


def clear_cache() -> None:
    _registry.clear()
