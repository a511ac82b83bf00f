"""scripts/probe_tenant.py, run as a process over real HTTP against each simulator personality.

One simulator (the session's, in this process) serves every run, switched with
/_sim/config. Each run must name what the personality varies, recommend the matching
settings, exit as the script documents, and leave the simulator's record without a
delete or a create.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.variants import PERSONALITIES
from tests.conftest import CREDENTIALS_SECRET, ROOT, server_env

PROBE = ROOT / "scripts" / "probe_tenant.py"
MAX_CALLS = 40  # the probe's own bound

# What the probe reports about the documented tenant (the simulator's defaults).
DOCUMENTED = {
    "token_url": "default",
    "token_lifetime": 600,
    "app_key_header": "optional",
    "token_error": "status",
    "token_error_status": 403,
    "offset_mode": "page",
    "order": "stable",
    "total": 160,
    "throttle_status": None,
    "token_mode": "unchecked",
    "delete_answers": "not measured (read only)",
}


def probe(sim: SimulatorControl, *args: str, **settings: str | None) -> tuple[int, dict[str, Any]]:
    """Run the probe with the function's settings for ``sim``; ``NAME=None`` leaves one out."""
    values: dict[str, str | None] = {
        "CEC_BASE_URL": sim.base_url,
        "CEC_APP_KEY": DEFAULT_APP_KEY,
        "CEC_APP_SECRET": DEFAULT_APP_SECRET,
        "CEC_TIMEOUT_SECONDS": "5",
        **settings,
    }
    env = server_env(**{k: v for k, v in values.items() if v is not None})
    if "CEC_APP_KEY_HEADER" not in settings:
        env.pop("CEC_APP_KEY_HEADER", None)
    sim.clear_calls()
    done = subprocess.run(
        [sys.executable, str(PROBE), "--json", *args], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    report: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    assert report.get("exit", done.returncode) == done.returncode, done.stderr
    stages = {c["stage"] for c in sim.calls()}
    assert stages <= {"token", "query"}, stages
    assert sim.deleted() == []
    assert len(sim.calls()) <= MAX_CALLS
    return done.returncode, report


# personality -> (extra settings, extra arguments, exit status, what the tenant report shows
# beyond DOCUMENTED, recommended CEC_APP_KEY_HEADER)
CASES: dict[str, tuple[dict[str, str], tuple[str, ...], int, dict[str, Any], str | None]] = {
    "documented": ({}, (), 0, {}, "app-key"),
    "record-offsets": ({}, (), 0, {"offset_mode": "record"}, "app-key"),
    "page-index": ({}, (), 1, {"offset_mode": "page_index"}, "app-key"),
    "unstable-order": ({}, (), 1, {"order": "shuffled"}, "app-key"),
    "drifting-order": ({}, (), 1, {"order": "rotating"}, "app-key"),
    "single-token": ({}, ("--check-token-revocation",), 0, {"token_mode": "single"}, "app-key"),
    "apig-expiry": ({}, (), 0, {"token_error": "apig", "token_error_status": 200}, "app-key"),
    "apig-expiry-401": ({}, (), 0, {"token_error": "apig", "token_error_status": 401}, "app-key"),
    "throttled": ({}, (), 0, {"throttle_status": 429}, "app-key"),
    "throttled-200": ({}, (), 0, {"throttle_status": 200}, "app-key"),
    # Delete answers cannot be seen without deleting: the probe says so and passes.
    "spaced-partial": ({}, (), 0, {}, "app-key"),
    "lower-partial": ({}, (), 0, {}, "app-key"),
    "empty-success": ({}, (), 0, {}, "app-key"),
    "refused-ids": ({}, (), 0, {}, "app-key"),
    "app-key-required": ({}, (), 0, {"app_key_header": "required"}, "app-key"),
    "app-key-rejected": ({}, (), 1, {"app_key_header": "rejected"}, "omit"),
    "app-key-user-id": ({}, (), 1, {"app_key_header": "unknown"}, None),
    "app-key-ignored": ({}, (), 0, {"app_key_header": "ignored"}, "app-key"),
    "token-port": ({}, (), 3, {"token_url": "not_found"}, None),
}


def test_every_personality_has_a_probe_case() -> None:
    assert set(CASES) == set(PERSONALITIES)


@pytest.mark.parametrize("name", list(CASES))
def test_the_probe_names_each_personality(sim: SimulatorControl, name: str) -> None:
    settings, args, status, shown, header = CASES[name]
    sim.personality(name)
    code, report = probe(sim, *args, **settings)
    assert code == status, report
    if status == 3:
        assert {k: report["tenant"][k] for k in shown} == shown
        return
    expected = {**DOCUMENTED, **shown}
    if name == "app-key-user-id":  # nothing past the header check can be read
        expected = {k: v for k, v in expected.items() if k in ("token_url", "token_lifetime", "app_key_header")}
        expected["throttle_status"], expected["delete_answers"] = None, "not measured (read only)"
    assert {k: report["tenant"].get(k) for k in expected} == expected
    assert report["recommended"].get("CEC_APP_KEY_HEADER") == header
    assert bool(report["problems"]) == (status == 1)


def test_single_token_is_not_checked_without_the_flag(sim: SimulatorControl) -> None:
    sim.personality("single-token")
    code, report = probe(sim)
    assert code == 0 and report["tenant"]["token_mode"] == "unchecked"
    assert sum(1 for c in sim.calls() if c["stage"] == "token") == 1


def test_the_revocation_check_on_a_tenant_that_keeps_tokens(sim: SimulatorControl) -> None:
    code, report = probe(sim, "--check-token-revocation")
    assert code == 0 and report["tenant"]["token_mode"] == "multi"


def test_the_revocation_check_warns_first(sim: SimulatorControl) -> None:
    env = server_env(CEC_BASE_URL=sim.base_url, CEC_APP_KEY=DEFAULT_APP_KEY, CEC_APP_SECRET=DEFAULT_APP_SECRET)
    command = [sys.executable, str(PROBE), "--json"]
    quiet = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    loud = subprocess.run(
        [*command, "--check-token-revocation"], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert "WARNING" not in quiet.stderr
    assert "WARNING" in loud.stderr and "revoke" in loud.stderr


def test_the_token_port_variant_with_its_token_url(sim: SimulatorControl) -> None:
    sim.personality("token-port")
    code, report = probe(sim, CEC_TOKEN_URL=sim.token_url())
    assert code == 0, report
    assert report["tenant"]["token_url"] == "custom"
    assert report["recommended"]["CEC_TOKEN_URL"] == sim.token_url()
    code, report = probe(sim)
    assert code == 3 and "CEC_TOKEN_URL" in report["problems"][0] and "28070" in report["problems"][0]


@pytest.mark.parametrize(
    ("personality", "configured", "status", "recommended"),
    [
        ("app-key-rejected", "omit", 0, "omit"),
        ("app-key-required", "omit", 1, "app-key"),
        ("app-key-user-id", "user-id:sim-user-1", 0, "user-id:sim-user-1"),
        ("documented", "user-id:sim-user-1", 1, "app-key"),
        ("app-key-ignored", "omit", 0, "omit"),
    ],
)
def test_the_configured_app_key_header_is_checked(
    sim: SimulatorControl, personality: str, configured: str, status: int, recommended: str
) -> None:
    sim.personality(personality)
    code, report = probe(sim, CEC_APP_KEY_HEADER=configured)
    assert code == status, report
    assert report["recommended"]["CEC_APP_KEY_HEADER"] == recommended
    if personality == "app-key-user-id":
        assert report["tenant"]["app_key_header"] == "user_id"
        assert {c["appKey"] for c in sim.calls() if c["stage"] == "query"} >= {"sim-user-1", DEFAULT_APP_KEY, None}


def test_fields_latency_and_the_human_report(sim: SimulatorControl) -> None:
    code, report = probe(sim)
    assert code == 0
    tenant = report["tenant"]
    assert tenant["field_types"]["dnid"] == {"number": 160} and tenant["field_types"]["id"] == {"string": 160}
    spelled_other = tenant["field_types"]["mediaTypeId"]
    assert tenant["field_types"]["mediatypeId"]["missing"] == 160 - spelled_other["missing"] == 32
    assert set(tenant["editable_values"]) <= {"0", "1", "2", "3", "None"}
    assert tenant["token_field_types"]["Expires"] == "string"
    assert tenant["media_filter"] == {"mediaTypeId": True, "mediatypeId": True}
    assert abs(tenant["clock_skew_seconds"]) < 60 and not report["advice"]
    assert 8 <= report["calls"] <= 12  # "about 10 on a quiet tenant" (docs/CEC_API.md)
    latency = tenant["latency_ms"]
    assert latency["all"]["calls"] == report["calls"] == len(sim.calls())
    assert latency["all"]["min"] <= latency["all"]["median"] <= latency["all"]["max"]
    sim.personality("app-key-rejected")
    text = subprocess.run(
        [sys.executable, str(PROBE)],
        check=False,
        env=server_env(CEC_BASE_URL=sim.base_url, CEC_APP_KEY=DEFAULT_APP_KEY, CEC_APP_SECRET=DEFAULT_APP_SECRET),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert text.returncode == 1
    assert "Recommended settings:\n" in text.stdout and "  CEC_APP_KEY_HEADER=omit" in text.stdout
    assert "Verdict (exit 1)" in text.stdout and DEFAULT_APP_SECRET not in text.stdout + text.stderr


def test_a_tenant_clock_far_off_is_reported(sim: SimulatorControl) -> None:
    sim.advance_clock(3600)
    code, report = probe(sim)
    assert code == 0 and report["tenant"]["clock_skew_seconds"] > 3000
    assert any("ignores CreateTime" in advice for advice in report["advice"])


def test_a_tenant_of_one_page_cannot_tell_its_offsets(sim: SimulatorControl, sim_server: Any) -> None:
    store = sim_server.state.store
    store.reset(store.all()[:60])
    sim.personality("page-index")  # invisible with one page, and harmless there
    code, report = probe(sim)
    assert code == 0 and report["tenant"]["offset_mode"] == "unknown" and report["tenant"]["total"] == 60
    assert any("could not tell" in c["finding"] for c in report["checks"])


def test_credentials_from_secret_manager(sim: SimulatorControl, secrets: FakeSecretManagerControl) -> None:
    code, report = probe(
        sim,
        CEC_APP_KEY=None,
        CEC_APP_SECRET=None,
        CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
    )
    assert code == 0, report
    assert secrets.calls()


def test_wrong_credentials_exit_3(sim: SimulatorControl) -> None:
    code, report = probe(sim, CEC_APP_SECRET="not-the-secret")
    assert code == 3 and "AK/SK" in report["problems"][0]
    assert "not-the-secret" not in json.dumps(report)


def test_an_unreachable_tenant_exits_3(sim: SimulatorControl) -> None:
    code, report = probe(sim, CEC_BASE_URL="http://127.0.0.1:9", CEC_TIMEOUT_SECONDS="2")
    assert code == 3 and "not available" in report["problems"][0]


def test_endless_throttling_stops_within_the_call_bound(sim: SimulatorControl) -> None:
    sim.configure(throttle_every=1)
    code, report = probe(sim)
    assert code == 3 and "no usable page" in report["problems"][0]
    assert report["tenant"]["throttle_status"] == 429


@pytest.mark.parametrize(
    "settings",
    [
        {"CEC_BASE_URL": None},
        {"CEC_APP_KEY": None, "CEC_APP_SECRET": None},
        {"CEC_APP_KEY_HEADER": "the-app-key"},
        {"CEC_BASE_URL": "not a url"},
    ],
)
def test_configuration_errors_exit_2_without_a_call(sim: SimulatorControl, settings: dict[str, str | None]) -> None:
    code, report = probe(sim, **settings)
    assert code == 2 and report["calls"] == 0 and report["problems"]
    assert sim.calls() == []


def test_upstream_text_quoting_secrets_is_masked(sim: SimulatorControl) -> None:
    # The first query's answer quotes the AK/SK and the token back.
    sim.inject({"stage": "query", "times": 1, "status": 403, "description": "", "echo_secrets": True})
    done = subprocess.run(
        [sys.executable, str(PROBE)],
        check=False,
        env=server_env(CEC_BASE_URL=sim.base_url, CEC_APP_KEY=DEFAULT_APP_KEY, CEC_APP_SECRET=DEFAULT_APP_SECRET),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "app_key=[redacted]" in done.stdout
    for secret in (DEFAULT_APP_KEY, DEFAULT_APP_SECRET, "sim-token-"):
        assert secret not in done.stdout + done.stderr
    assert sim.deleted() == []


def test_a_dripping_answer_is_cut_at_the_timeout(sim: SimulatorControl) -> None:
    # One byte a second: without a wall-clock bound this one answer would take minutes.
    sim.inject({"stage": "query", "times": 1, "drip": 1.0, "drip_body_only": True, "drip_max_seconds": 100})
    code, report = probe(sim, CEC_TIMEOUT_SECONDS="2")
    assert code == 0, report
    findings = [c["finding"] for c in report["checks"] if c["check"] == "X-APP-Key"]
    assert report["tenant"]["app_key_header"] == "optional"
    assert sum(1 for c in sim.calls() if c["stage"] == "query" and c["appKey"] == DEFAULT_APP_KEY) >= 2, findings


def test_numbers_too_long_to_be_numbers_are_not_believed(sim: SimulatorControl) -> None:
    huge = "9" * 5000  # int() refuses it; the function's bounded parser answers None
    page = {"total": huge, "calledRouteList": [{"id": "1", "dnid": huge, "accessCode": "1", "extCode": ""}]}
    sim.inject({"stage": "query", "times": 1, "json": {"returnCode": "0", "description": "ok", "data": page}})
    code, report = probe(sim)
    assert code == 1 and report["tenant"]["total"] is None
    assert "data.total is not a number" in report["problems"][0]
