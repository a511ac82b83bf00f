"""The CEC calls' own headers (Authorization, X-APP-Key, X-Token-Expire) are set on the
prepared request (function/cec/transport.py), and the session does not read the
environment per call (trust_env is off): a ~/.netrc entry for the CEC host (requests
reads one whenever a call has no auth and trust_env is on) can never replace our
bearer token with Basic credentials. Over real HTTP to the simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cec_sim import SimulatorControl


def test_a_netrc_entry_for_the_host_does_not_replace_the_token(
    post: Callable[..., Any], sim: SimulatorControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password-0001\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    response = post({"dnids": "1,2"})
    assert response.status_code == 200, response.get_data(as_text=True)
    (delete,) = sim.calls("delete")
    assert delete["authorization"] == f"Bearer {sim.tokens()[-1]}"
    assert delete["appKey"]
    (token,) = sim.calls("token")
    assert token["tokenExpire"]  # the token call's own header
    assert token["authorization"] is None
