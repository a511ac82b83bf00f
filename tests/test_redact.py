"""function/redact.py: masking checks each known value with a substring test first and
runs its pattern only when one occurs (most text holds no secret); whatever the text,
what leaves holds no known value, and text without one is returned as it was."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from function.redact import MIN_SECRET_CHARS, REPLACEMENT, SecretRegistry

# Values that share prefixes and contain one another, as rotated keys and a token
# that embeds the key can; and the characters JSON escapes.
VALUES = ["app-key-0001", "app-key-0001-secret", 'quo"te\\d-secret', "tok-ABCDEF-123456", "ABCDEF-12"]
PIECES = st.lists(
    st.one_of(st.sampled_from(VALUES), st.text(alphabet='abcdefgk-0123456789"\\ ABCDEF', max_size=12)),
    max_size=12,
)


def _registry() -> SecretRegistry:
    registry = SecretRegistry()
    registry.register("keys", VALUES[:3])
    registry.register("token", VALUES[3:])
    return registry


@settings(max_examples=300, deadline=None)
@given(PIECES)
def test_no_known_value_survives_masking(pieces: list[str]) -> None:
    registry = _registry()
    text = "".join(pieces)
    for form in (text, json.dumps(text, ensure_ascii=False)):
        masked = registry.mask(form)
        leftover = masked.replace(REPLACEMENT, "\0")
        for value in VALUES:
            assert value not in leftover
            assert json.dumps(value, ensure_ascii=False)[1:-1] not in leftover
        if not any(v in form for v in VALUES) and not any(json.dumps(v)[1:-1] in form for v in VALUES):
            assert masked is form  # nothing to mask: the text itself, untouched


def test_the_longest_value_is_masked_whole() -> None:
    registry = _registry()
    assert registry.mask("x app-key-0001-secret y app-key-0001 z") == f"x {REPLACEMENT} y {REPLACEMENT} z"
    assert registry.mask("tok-ABCDEF-123456") == REPLACEMENT


def test_short_values_and_an_empty_registry_mask_nothing() -> None:
    registry = SecretRegistry()
    assert registry.mask("anything at all") == "anything at all"
    registry.register("short", ["x" * (MIN_SECRET_CHARS - 1)])
    assert registry.mask("x" * 20) == "x" * 20
