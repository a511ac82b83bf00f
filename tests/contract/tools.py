"""Where the contract tools are (scripts/ci/contract_tools.sh installs them), and what
happens without one: a skip with the reason locally, a failure under CI=true."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

NODE_BIN = ROOT / ".tools" / "node_modules" / ".bin"
CONTRACT_VENV = ROOT / ".venv-contract"
REDOCLY = NODE_BIN / "redocly"
OPENAPI2POSTMAN = NODE_BIN / "openapi2postmanv2"
GENERATOR = CONTRACT_VENV / "bin" / "openapi-generator-cli"
CONTRACT_PYTHON = CONTRACT_VENV / "bin" / "python"
INSTALL_HINT = "run scripts/ci/contract_tools.sh (scripts/test.sh does)"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} under CI=true; {INSTALL_HINT}")
    pytest.skip(f"{reason}; {INSTALL_HINT}")


def require(path: Path) -> Path:
    if not path.exists():
        _missing(f"{path.relative_to(ROOT)} is not installed")
    return path


def require_program(name: str, why: str) -> str:
    found = shutil.which(name)
    if found is None:
        _missing(f"{name} is not installed ({why})")
    return str(found)


def require_java() -> str:
    return require_program("java", "openapi-generator needs Java 11+")
