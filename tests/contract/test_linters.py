"""openapi-spec-validator and Redocly CLI on the committed documents and the connector."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT
from tests.contract import tools

FILES = [
    "docs/api/openapi.json",
    "docs/api/openapi-3.0.json",
    "docs/api/swagger.json",
    "connectors/power-automate/apiDefinition.swagger.json",
]


@pytest.mark.parametrize("relative", FILES)
def test_openapi_spec_validator_cli_accepts(relative: str) -> None:
    cli = tools.require(tools.CONTRACT_VENV / "bin" / "openapi-spec-validator")
    result = subprocess.run([str(cli), str(ROOT / relative)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("relative", FILES)
def test_redocly_lint_reports_no_errors(relative: str) -> None:
    redocly = tools.require(tools.REDOCLY)
    result = subprocess.run(
        [str(redocly), "lint", "--format=json", relative],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
    )  # fmt: skip
    report = json.loads(result.stdout)
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], errors
    assert result.returncode == 0
    # What is left is the licence warning: the repository grants no licence with a URL.
    assert {p["ruleId"] for p in report["problems"]} <= {"info-license-strict"}
