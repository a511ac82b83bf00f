"""Shared fixtures: the simulator and fake Secret Manager on loopback, and the function.

The function runs in-process through functions-framework's own Flask app
(``create_app(...).test_client()``); every upstream call it makes goes over real HTTP
to the servers started here. tests/test_server_process.py covers the real server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from function import runtime
from function.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-caller-key-0123456789"
CREDENTIALS_SECRET = "projects/test-project/secrets/cec-credentials"


def server_env(**settings: str) -> dict[str, str]:
    """The environment of a real server process: this one's, less every setting of the
    function (so that a developer's shell never leaks into a test), plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in setting_names()}
    env.update(PYTHONUNBUFFERED="1", **settings)  # log lines reach the log file at once
    return env


def setting_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        if field.alias:
            names.add(field.alias)
        choices = getattr(field.validation_alias, "choices", None) or []
        names.update(c for c in choices if isinstance(c, str))
    return names


@pytest.fixture(scope="session")
def sim_server() -> Iterator[Any]:
    server = start_cec()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sm_server() -> Iterator[Any]:
    server = start_secret_manager()
    yield server
    server.stop()


@pytest.fixture
def sim(sim_server: Any) -> SimulatorControl:
    control = SimulatorControl(sim_server.url)
    control.reset()
    return control


@pytest.fixture
def secrets(sm_server: Any) -> FakeSecretManagerControl:
    control = FakeSecretManagerControl(sm_server.url)
    control.reset()
    control.add_version(CREDENTIALS_SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    return control


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, sim: SimulatorControl, secrets: FakeSecretManagerControl
) -> Callable[..., None]:
    """Configure the function. ``env()`` gives the default: API-key callers, AK/SK from
    the fake Secret Manager. ``env(NAME=value)`` overrides; ``NAME=None`` unsets."""

    def apply(**overrides: str | None) -> None:
        for name in setting_names():
            monkeypatch.delenv(name, raising=False)
        values: dict[str, str | None] = {
            "CALLER_AUTH": "api_key",
            "API_KEYS": API_KEY,
            "CEC_BASE_URL": sim.base_url,
            "CEC_CREDENTIALS_SECRET": CREDENTIALS_SECRET + "/versions/latest",
            "SECRET_MANAGER_ENDPOINT": secrets.base_url,
            "CEC_TIMEOUT_SECONDS": "2",
            "REQUEST_BUDGET_SECONDS": "8",
        }
        values.update(overrides)
        for name, value in values.items():
            if value is not None:
                monkeypatch.setenv(name, value)
        runtime.clear_cache()

    apply()
    yield apply
    runtime.clear_cache()


@pytest.fixture(scope="session")
def app() -> Any:
    return functions_framework.create_app(
        target="delete_called_route", source=str(ROOT / "main.py"), signature_type="http"
    )


@pytest.fixture
def client(app: Any, env: Callable[..., None]) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def post(client: FlaskClient) -> Callable[..., TestResponse]:
    """POST a JSON body to / as an authenticated API-key caller."""

    def send(body: Any, *, headers: dict[str, str] | None = None, key: str | None = API_KEY) -> TestResponse:
        all_headers = {"X-API-Key": key} if key else {}
        all_headers.update(headers or {})
        return client.post("/", data=json.dumps(body), content_type="application/json", headers=all_headers)

    return send
