"""What the simulator can vary where the vendor's documentation is silent or loose.

Each variant is a field of ``SimConfig`` with a fixed set of values; a *personality* is a
named set of them, one plausible CEC server. ``documented`` (every default) is the
contract read literally: page-aligned offsets, a stable order, tokens that live until
they expire, the documented partial format.
"""

from __future__ import annotations

from typing import Any

# Field -> the values it accepts; the first is the default.
CHOICES: dict[str, tuple[str, ...]] = {
    "offset_mode": ("page", "record", "page_index"),
    "order": ("stable", "shuffled", "rotating"),
    "token_mode": ("multi", "single"),
    "token_error": ("status", "apig"),
    "partial_format": ("documented", "spaced", "lower"),
    "app_key_header": ("optional", "required", "ignored", "rejected", "user_id"),
}

# Every field a personality sets, with its default: applying a personality first puts
# all of them back, so that switching from one personality to another leaves nothing over.
VARIANT_DEFAULTS: dict[str, Any] = {
    **{name: values[0] for name, values in CHOICES.items()},
    "token_error_status": 401,
    "throttle_every": 0,
    "throttle_status": 429,
    "empty_success": False,
    "refused_ids_in_data": False,
    "token_port_variant": False,
}

# name -> (one line for --help, the settings on top of the defaults)
PERSONALITIES: dict[str, tuple[str, dict[str, Any]]] = {
    "documented": ("the contract read literally (every default; offsets rounded down to a page)", {}),
    "record-offsets": ("any offset starts the page at that record", {"offset_mode": "record"}),
    "page-index": ("offset read as a page number (offset 100 = page 100)", {"offset_mode": "page_index"}),
    "unstable-order": ("every query lists the records in a new random order", {"order": "shuffled"}),
    "drifting-order": ("the listing rotates by one record on every query", {"order": "rotating"}),
    "single-token": ("a new token revokes the app's older tokens", {"token_mode": "single"}),
    "apig-expiry": (
        "expired/revoked token: APIG.0307 body with HTTP 200",
        {"token_error": "apig", "token_error_status": 200},
    ),
    "apig-expiry-401": (
        "expired/revoked token: APIG.0307 body with HTTP 401",
        {"token_error": "apig", "token_error_status": 401},
    ),
    "throttled": ("every 3rd API call throttled: APIG.0308 with HTTP 429", {"throttle_every": 3}),
    "throttled-200": (
        "every 3rd API call throttled: APIG.0308 with HTTP 200",
        {"throttle_every": 3, "throttle_status": 200},
    ),
    "spaced-partial": ("partial answers written 'Success:a, Failed:b'", {"partial_format": "spaced"}),
    "lower-partial": ("partial answers written 'success:a,failed:b'", {"partial_format": "lower"}),
    "empty-success": ('a delete that deleted nothing answers returnCode "0" with no data', {"empty_success": True}),
    "refused-ids": ("data.id also lists the refused records' ids", {"refused_ids_in_data": True}),
    "app-key-required": ("X-APP-Key must be sent (the app key)", {"app_key_header": "required"}),
    "app-key-rejected": ("any X-APP-Key header is refused (403)", {"app_key_header": "rejected"}),
    "app-key-user-id": ("X-APP-Key must carry the user id (config user_id)", {"app_key_header": "user_id"}),
    "app-key-ignored": ("X-APP-Key is not looked at", {"app_key_header": "ignored"}),
    "token-port": (
        "tokenByAkSk only on a second port (the port-28070 doc variant)",
        {"token_port_variant": True},
    ),
}


def personality_settings(name: str) -> dict[str, Any]:
    """Every variant field as personality ``name`` sets it; KeyError if there is none."""
    return {**VARIANT_DEFAULTS, **PERSONALITIES[name][1]}


def invalid(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be given to variant field ``name``, or None if it can."""
    if name in CHOICES and value not in CHOICES[name]:
        return f"{name} must be one of {', '.join(CHOICES[name])}"
    default = VARIANT_DEFAULTS.get(name)
    if isinstance(default, bool) and not isinstance(value, bool):
        return f"{name} must be true or false"
    number = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if isinstance(default, int) and not isinstance(default, bool) and not number:
        return f"{name} must be a non-negative integer"
    return None


def help_text() -> str:
    width = max(map(len, PERSONALITIES))
    return "\n".join(f"  {name:<{width}}  {line}" for name, (line, _) in PERSONALITIES.items())
