"""Helpers for the infra checks: the Terraform module parsed with python-hcl2, a tiny
evaluator for its validation conditions, and locating the external linters."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
TF_DIR = ROOT / "infra" / "terraform"
DEPLOY_SH = ROOT / "infra" / "gcloud" / "deploy.sh"

Module = dict[str, dict[str, Any]]


def search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not found in {text!r}"
    return match


def hcl2_module() -> Any:
    try:
        import hcl2
    except ImportError:
        _missing("python-hcl2 is not importable (pip install -r requirements-dev.txt)")
    return hcl2


def load_tf(path: Path) -> dict[str, Any]:
    hcl2 = hcl2_module()
    options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = hcl2.load(handle, serialization_options=options)
    return parsed


def load_module(directory: Path = TF_DIR) -> dict[str, dict[str, Any]]:
    """All blocks of one Terraform module (its own .tf files, not sub-folders), merged:
    {"resource": {"type.name": body}, "variable": {name: body}, "locals": {...}, ...}."""
    merged: dict[str, dict[str, Any]] = {
        "resource": {},
        "data": {},
        "variable": {},
        "locals": {},
        "output": {},
        "module": {},
        "terraform": {},
    }
    for path in sorted(directory.glob("*.tf")):
        parsed = load_tf(path)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        key = f"{rtype}.{name}"
                        assert key not in merged[kind], f"{key} defined twice"
                        merged[kind][key] = body
        for kind in ("variable", "output", "module"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
        for block in parsed.get("terraform", []):
            merged["terraform"].update(block)
    return merged


def unwrap(value: Any) -> str:
    """The expression inside "${...}", or the literal as a string."""
    text = str(value)
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        return text[2:-1]
    return text


# --- A small evaluator for validation conditions ---------------------------------
# Enough HCL for the rules that matter here (boolean logic, contains, length,
# setintersection, alltrue, can(regex(...)), for-expressions over lists and maps),
# so the tests can try every combination of inputs instead of reading the text.


def _can(thunk: Any) -> bool:
    try:
        thunk()
    except Exception:  # noqa: BLE001 - HCL's can() is true for any evaluation error
        return False
    return True


def _regex(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise ValueError("no match")
    return match.group(0)


_FUNCS = {
    "contains": lambda seq, item: item in seq,
    "length": len,
    "setintersection": lambda a, b: set(a) & set(b),
    "alltrue": all,
    "anytrue": any,
    "keys": list,
    "can": _can,
    "regex": _regex,
}


def _to_python(expr: str) -> str:
    text = expr.replace("!=", " __NE__ ")
    text = text.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    text = text.replace(" __NE__ ", " != ")
    text = re.sub(r"\bcan\(", "can(lambda: ", text)
    text = re.sub(r"\btrue\b", "True", text)
    text = re.sub(r"\bfalse\b", "False", text)
    text = re.sub(r"\bnull\b", "None", text)
    # [for k, v in M : BODY] -> [BODY for k, v in M.items()] ; [for x in L : BODY]
    text = re.sub(r"\[for (\w+), (\w+) in ([\w.]+) : (.*?)\]\)", r"[\4 for \1, \2 in \3.items()])", text)
    text = re.sub(r"\[for (\w+) in ([\w.]+) : (.*?)\]\)", r"[\3 for \1 in \2])", text)
    return text


def evaluate(condition: str, **variables: Any) -> bool:
    def wrap(value: Any) -> Any:
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            return {k: SimpleNamespace(**v) for k, v in value.items()}
        return value

    namespace = {"var": SimpleNamespace(**{k: wrap(v) for k, v in variables.items()}), **_FUNCS}
    # Globals, not locals: a comprehension sees only the global scope.
    return bool(eval(_to_python(unwrap(condition)), {"__builtins__": {}, **namespace}))


def validations(module: dict[str, Any], variable: str) -> list[str]:
    return [v["condition"] for v in module["variable"][variable].get("validation", [])]


def defaults(module: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get("default") for name, body in module["variable"].items()}


# --- External tools -----------------------------------------------------------------


def tool(env_var: str, name: str, how: str) -> str:
    """Path of a linter from $ENV_VAR or PATH. Missing: a failure under CI, a skip locally."""
    configured = os.environ.get(env_var)
    path = configured if configured and Path(configured).exists() else shutil.which(name)
    if path:
        return path
    _missing(f"{name} not found (set {env_var} or put it on PATH; {how})")


def _missing(message: str) -> NoReturn:
    """CI must run every infra check; a developer without the tool gets a clear skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
