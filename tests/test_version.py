"""One version, written in function/__init__.py, and the same everywhere it is reported:
pyproject.toml (dynamic, read from there), the OpenAPI documents and the connector
(info.version), GET /healthz of the real server, and CHANGELOG.md's latest release."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import requests

from cec_sim import SimulatorControl
from cec_sim.function_server import FunctionServer
from function import __version__
from tests.conftest import server_env

ROOT = Path(__file__).resolve().parent.parent
_RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.MULTILINE)


def test_the_version_is_semantic() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_pyproject_reads_the_version_from_the_deployed_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "function.__version__"}
    assert pyproject["project"]["license"] == "Apache-2.0"


def test_the_changelog_has_an_unreleased_section_then_the_version_as_latest_release() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## .*$", text, re.MULTILINE)
    assert headings[0] == "## [Unreleased]"
    assert _RELEASE.findall(text)[0] == __version__


def test_the_committed_documents_report_the_version_and_the_licence() -> None:
    for relative in (
        "docs/api/openapi.json",
        "docs/api/openapi-3.0.json",
        "docs/api/swagger.json",
        "connectors/power-automate/apiDefinition.swagger.json",
    ):
        info = json.loads((ROOT / relative).read_text())["info"]
        assert info["version"] == __version__, relative
        assert info["license"]["name"] == "Apache-2.0", relative
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]


def test_the_server_reports_the_version(sim: SimulatorControl, tmp_path: Path) -> None:
    env = server_env(
        CALLER_AUTH="none", CEC_BASE_URL=sim.base_url, CEC_APP_KEY="sim-app-key", CEC_APP_SECRET="sim-app-secret"
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        health = requests.get(running.url + "/healthz", timeout=10).json()
        document = requests.get(running.url + "/openapi.json", timeout=10).json()
    assert health["version"] == __version__
    assert document["info"]["version"] == __version__
