"""The function's real server process for the contract tests' consumers to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY, CREDENTIALS_SECRET, server_env


@pytest.fixture
def server(sim: SimulatorControl, secrets: FakeSecretManagerControl, tmp_path: Path) -> Iterator[FunctionServer]:
    env = server_env(
        CALLER_AUTH="api_key",
        API_KEYS=API_KEY,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """External consumers (npm, Java): scripts/test.sh runs them on the runtime Python only."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.external_tools)
