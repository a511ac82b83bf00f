"""CEC_CREDENTIALS_FILE: the AK/SK from a mounted secret file, cached and re-read like the
Secret Manager source (TTL, and once more when tokenByAkSk rejects them). Over real
HTTP to the simulator; the file is a real file, as Cloud Run's secret volume is."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from tests.test_requests import assert_problem

CANARY = "file-secret-canary-4f1d9"


@pytest.fixture
def credentials_file(tmp_path: Path, env: Callable[..., None]) -> Path:
    path = tmp_path / "cec-credentials" / "credentials.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    env(CEC_CREDENTIALS_FILE=str(path))  # CEC_CREDENTIALS_SECRET stays set: the file wins
    return path


def test_the_file_is_read_once_and_secret_manager_never(
    post: Callable[..., Any], sim: SimulatorControl, secrets: FakeSecretManagerControl, credentials_file: Path
) -> None:
    for dnid in (1, 2, 3):
        assert post({"dnids": [dnid]}).status_code == 200
    assert secrets.calls() == []
    assert len(sim.calls("token")) == 1
    assert {c["appKey"] for c in sim.calls("delete")} == {DEFAULT_APP_KEY}


def test_a_rotated_file_is_picked_up_after_rejection(
    post: Callable[..., Any], sim: SimulatorControl, credentials_file: Path
) -> None:
    assert post({"dnids": "1"}).status_code == 200
    # The operator adds a new version; the mounted file shows it; the old one is revoked.
    credentials_file.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": "rotated-secret"}))
    sim.configure(app_secret="rotated-secret")
    sim.advance_clock(3600)  # the token expires: a new one needs the AK/SK again
    response = post({"dnids": "2"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(sim.calls("token")) == 3  # first token, rejected old AK/SK, accepted new one


def test_the_file_is_re_read_after_the_ttl(
    post: Callable[..., Any], sim: SimulatorControl, env: Callable[..., None], credentials_file: Path
) -> None:
    env(CEC_CREDENTIALS_FILE=str(credentials_file), SECRET_CACHE_TTL_SECONDS="0", CEC_TOKEN_TTL_SECONDS="60")
    assert post({"dnids": "1"}).status_code == 200
    credentials_file.write_text(json.dumps({"app_key": "another-key", "app_secret": "another-secret"}))
    sim.configure(app_key="another-key", app_secret="another-secret")
    sim.advance_clock(3600)
    assert post({"dnids": "2"}).status_code == 200
    # The second token was asked for with the new key at once: no rejected attempt.
    assert len(sim.calls("token")) == 2
    assert [c["appKey"] for c in sim.calls("delete")] == [DEFAULT_APP_KEY, "another-key"]


def test_still_rejected_after_the_re_read_is_502_naming_the_file_never_its_content(
    post: Callable[..., Any], sim: SimulatorControl, credentials_file: Path
) -> None:
    credentials_file.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": CANARY}))
    problem = assert_problem(post({"dnids": "1"}), 502, "upstream_auth_failed")
    assert str(credentials_file) in problem["detail"]
    assert CANARY not in json.dumps(problem)
    assert len(sim.calls("token")) == 1  # the file read again was the same: not asked twice


def test_a_missing_file_is_a_retryable_503(
    post: Callable[..., Any], sim: SimulatorControl, credentials_file: Path, capsys: Any
) -> None:
    os.remove(credentials_file)
    problem = assert_problem(post({"dnids": "1"}), 503, "secret_unavailable")
    assert problem["retryable"] is True
    assert "CEC_CREDENTIALS_FILE" in problem["detail"] and "FileNotFoundError" in problem["detail"]
    assert sim.calls() == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"not json " + CANARY.encode(), "not valid JSON"),
        (json.dumps([CANARY]).encode(), "not a JSON object"),
        (json.dumps({"app_key": CANARY}).encode(), "app_secret missing"),
        (b"\xff\xfe" + CANARY.encode(), "not valid JSON"),
        (b"{" * (64 * 1024 + 1), "over 65536 bytes"),
    ],
)
def test_a_bad_file_is_500_misconfigured_without_quoting_it(
    post: Callable[..., Any], sim: SimulatorControl, credentials_file: Path, content: bytes, fragment: str
) -> None:
    credentials_file.write_bytes(content)
    problem = assert_problem(post({"dnids": "1"}), 500, "misconfigured")
    assert fragment in problem["detail"]
    assert CANARY not in json.dumps(problem)
    assert sim.calls() == []


def test_a_relative_path_is_not_configured(post: Callable[..., Any], env: Callable[..., None]) -> None:
    env(CEC_CREDENTIALS_FILE="secrets/credentials.json")
    problem = assert_problem(post({"dnids": "1"}), 503, "not_configured")
    assert "CEC_CREDENTIALS_FILE" in problem["detail"]


def test_the_file_alone_is_a_complete_configuration(
    post: Callable[..., Any], env: Callable[..., None], credentials_file: Path, secrets: FakeSecretManagerControl
) -> None:
    env(CEC_CREDENTIALS_FILE=str(credentials_file), CEC_CREDENTIALS_SECRET=None, SECRET_MANAGER_ENDPOINT=None)
    assert post({"dnids": "1"}).status_code == 200
    assert secrets.calls() == []
