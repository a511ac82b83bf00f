"""The fault plan: every way an upstream call fails, injected at random into the
simulator (token, delete, query) and the fake Secret Manager for the whole run."""

from __future__ import annotations

from typing import Any

# Longer than CEC_TIMEOUT_SECONDS and SECRET_TIMEOUT_SECONDS (config.py): the function gives up first.
TIMEOUT_FAULT_DELAY = 1.6

# One row per fault; the rate is spread evenly over the rows of a stage.
UPSTREAM_FAULTS: dict[str, dict[str, Any]] = {
    "connection reset": {"drop": "reset"},
    "connection closed": {"drop": "close"},
    "cut mid-answer": {"drop": "mid"},
    "timeout": {"delay": TIMEOUT_FAULT_DELAY},
    "429 Retry-After": {"status": 429, "headers": {"Retry-After": "1"}},
    "429 long Retry-After": {"status": 429, "headers": {"Retry-After": "30"}},
    "429": {"status": 429},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "504": {"status": 504},
    "200 HTML": {"body": "html"},
    "200 truncated JSON": {"body": "truncated"},
    "200 wrong shape": {"body": "wrong_shape"},
    "returnCode non-zero": {"returnCode": "9", "description": "injected business failure"},
}
# The delete happens and its answer is lost or spoilt: the case that makes "reported
# deleted" and "really deleted" drift apart unless the function converges. A 500 is
# not here: the API documents it as a business failure, i.e. nothing was done.
AFTER_ACTION_FAULTS = (
    "connection reset",
    "connection closed",
    "cut mid-answer",
    "timeout",
    "502",
    "503",
    "504",
    "200 HTML",
    "200 truncated JSON",
    "200 wrong shape",
    "returnCode non-zero",
)
SECRET_FAULTS: dict[str, dict[str, Any]] = {
    "connection reset": {"drop": "reset"},
    "connection closed": {"drop": "close"},
    "timeout": {"delay": TIMEOUT_FAULT_DELAY},
    "429": {"status": 429},
    "500": {"status": 500},
    "503": {"status": 503},
    "504": {"status": 504},
}


def fault_rules(rate: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(simulator rules, Secret Manager rules): every fault forever (``times: null``), at random."""
    cec: list[dict[str, Any]] = []
    for stage in ("token", "delete", "query"):
        rows = [(name, UPSTREAM_FAULTS[name], False) for name in UPSTREAM_FAULTS]
        if stage == "delete":
            rows += [(name, UPSTREAM_FAULTS[name], True) for name in AFTER_ACTION_FAULTS]
        for name, rule, after in rows:
            description = f"injected {name}{' after the action' if after else ''}"
            cec.append(
                {
                    "description": description,
                    **rule,
                    "stage": stage,
                    "times": None,
                    "probability": rate / len(rows),
                    "afterAction": after,
                }
            )
    secret = [
        {"description": f"injected {name}", **rule, "times": None, "probability": rate / len(SECRET_FAULTS)}
        for name, rule in SECRET_FAULTS.items()
    ]
    return cec, secret


def fault_kinds() -> str:
    return f"{len(UPSTREAM_FAULTS)} / {len(AFTER_ACTION_FAULTS)} / {len(SECRET_FAULTS)}"
