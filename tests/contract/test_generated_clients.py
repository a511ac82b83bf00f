"""Python clients that openapi-generator generates from the 3.0 and the 2.0 documents,
talking to the real server process with the simulator behind it.

The point of the shape of DeleteRequest: a generated client must send a dry run as a dry
run (an earlier oneOf shape made openapi-generator's branch models drop dryRun).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cec_sim import SimulatorControl
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY, ROOT
from tests.contract import tools

DOCUMENTS = {"3.0": ROOT / "docs" / "api" / "openapi-3.0.json", "2.0": ROOT / "docs" / "api" / "swagger.json"}
DRIVER = Path(__file__).with_name("drive_client.py")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, str]]:
    """Generate each client once per session, in a temp dir (never in the repository)."""
    made: dict[str, tuple[Path, str]] = {}

    def generate(version: str) -> tuple[Path, str]:
        if version not in made:
            tools.require_java()
            generator = tools.require(tools.GENERATOR)
            tools.require(tools.CONTRACT_PYTHON)
            out = tmp_path_factory.mktemp("client-" + version.replace(".", ""))
            package = "cec_client_" + version.replace(".", "")
            result = subprocess.run(
                [
                    str(generator), "generate", "-g", "python", "-i", str(DOCUMENTS[version]), "-o", str(out),
                    "--package-name", package,
                    "--global-property", "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false",
                ],
                capture_output=True, text=True, timeout=180, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            made[version] = (out, package)
        return made[version]

    return generate


def _drive(client: tuple[Path, str], url: str, step: str) -> Any:
    out, package = client
    result = subprocess.run(
        [str(tools.CONTRACT_PYTHON), str(DRIVER), str(out), package, url, API_KEY, step],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("version", sorted(DOCUMENTS))
def test_generated_client_round_trip(
    version: str, generated: Callable[[str], tuple[Path, str]], server: FunctionServer, sim: SimulatorControl
) -> None:
    client = generated(version)

    def run(step: str) -> Any:
        return _drive(client, server.url, step)

    dry = run("dry_run")
    assert dry["sent"] == {"routes": [{"accessCode": "9911411"}], "dryRun": True}  # dryRun kept
    assert (dry["status"], dry["data"]["status"], dry["data"]["dnids"]) == (200, "planned", ["1", "2", "3"])
    if version == "3.0":
        assert dry["model"] == "DryRunResult"  # the 200 oneOf resolved to the right branch
    assert sim.calls("delete") == [] and sim.deleted() == []  # nothing deleted upstream

    routes = run("routes")
    assert (routes["status"], routes["data"]["status"]) == (200, "deleted")
    assert sorted(sim.deleted()) == [1, 2, 3]
    assert [r["outcome"] for r in routes["data"]["results"]] == ["deleted"] * 3

    dnids = run("dnids")
    assert dnids["sent"] == {"dnids": "4", "dryRun": False}
    assert (dnids["status"], dnids["data"]["deleted"]) == (200, ["99114111"])
    assert 4 in sim.deleted()
    if version == "3.0":
        listed = run("dnid_list")
        assert listed["sent"] == {"dnids": [10, 11], "dryRun": False}
        assert (listed["status"], listed["data"]["dnids"]) == (200, ["10", "11"])
        assert {10, 11} <= set(sim.deleted())

    partial = run("partial")
    assert (partial["status"], partial["model"], partial["data"]["status"]) == (207, "DeleteResult", "partial")
    assert 5 in sim.deleted() and 6 not in sim.deleted()

    failed = run("failed")  # 422 with a result body: the client raises, the body is the result
    assert (failed["status"], failed["body"]["status"], failed["body"]["results"][0]["outcome"]) == (
        422,
        "failed",
        "protected",
    )

    reused = run("reused")
    assert reused["first"]["status"] == 200
    second = reused["second"]
    assert (second["status"], second["body"]["code"], second["body"]["retryable"]) == (
        422,
        "idempotency_key_reused",
        False,
    )

    calls_before = len(sim.calls())
    invalid = run("invalid")
    assert (invalid["status"], invalid["body"]["code"]) == (400, "invalid_request")
    assert invalid["body"]["errors"][0]["pointer"] == "/dnids"
    assert len(sim.calls()) == calls_before  # bad input never reaches the CEC API
