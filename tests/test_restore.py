"""scripts/restore_routes.py as an operator runs it (a process), against the simulator:
verification of every entry, validation of the whole input, the tenant looked up for the
preview, honest reports of what the API cannot set, the old -> new map and exit codes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from function.callers.audit import key_from_credentials, sign
from scripts.restore_routes import TRUST_FLAG, Entry, check
from tests.conftest import ROOT, server_env

KEY = key_from_credentials(DEFAULT_APP_KEY, DEFAULT_APP_SECRET)


def audit_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out.splitlines()
    return [json.loads(x) for x in out if '"called routes deleted"' in x]


def restore(
    sim: SimulatorControl, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    settings = env if env is not None else {"CEC_APP_KEY": DEFAULT_APP_KEY, "CEC_APP_SECRET": DEFAULT_APP_SECRET}
    command = [sys.executable, str(ROOT / "scripts" / "restore_routes.py"), *map(str, args)]
    environment = server_env(CEC_BASE_URL=sim.base_url, CEC_TIMEOUT_SECONDS="5", **settings)
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=False)


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def route_of(sim: SimulatorControl, access: str, ext: str) -> dict[str, Any] | None:
    return next((r for r in sim.routes() if (r["accessCode"], r["extCode"]) == (access, ext)), None)


def delete_9911411(post: Callable[..., TestResponse], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert post({"routes": [{"accessCode": "9911411"}]}).status_code == 200
    return audit_lines(capsys)


def test_the_preview_looks_the_tenant_up_and_never_overwrites_a_conflict(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    lines = write(tmp_path / "audit.jsonl", delete_9911411(post, capsys))
    # "" comes back with its own target; "1" with another one; "11" stays gone.
    sim.create_route(DEFAULT_APP_KEY, DEFAULT_APP_SECRET, accessCode="9911411", extCode="", devicetype=1, deviceId=1)
    sim.create_route(DEFAULT_APP_KEY, DEFAULT_APP_SECRET, accessCode="9911411", extCode="1", devicetype=3, deviceId=7)
    sim.clear_calls()
    shown = restore(sim, lines, "--json")
    assert shown.returncode == 1, shown.stderr
    routes = {r["extCode"]: r for r in json.loads(shown.stdout)["routes"]}
    assert {k: r["status"] for k, r in routes.items()} == {"": "exists", "1": "conflict", "11": "would_create"}
    assert "IVR 7" in routes["1"]["description"] and "dnid 2 (conflict)" in shown.stderr
    assert sim.calls("create") == []

    applied = restore(sim, lines, "--apply", "--json")
    assert applied.returncode == 1
    routes = {r["extCode"]: r for r in json.loads(applied.stdout)["routes"]}
    assert {k: r["status"] for k, r in routes.items()} == {"": "exists", "1": "conflict", "11": "restored"}
    assert route_of(sim, "9911411", "1")["devicetype"] == 3  # type: ignore[index]
    assert len(sim.calls("create")) == 1


def test_apply_recreates_media_types_says_what_the_api_cannot_set_and_maps_old_to_new(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    before = {(r["accessCode"], r["extCode"]): r for r in sim.routes() if r["dnid"] in (1, 2, 5)}
    capsys.readouterr()
    body = {"routes": [{"accessCode": "9911411", "extCode": ""}, {"accessCode": "9911411", "extCode": "1"},
                       {"accessCode": "4008001000", "extCode": ""}]}  # fmt: skip
    assert post(body).status_code == 200
    lines = write(tmp_path / "audit.jsonl", audit_lines(capsys))
    applied = restore(sim, lines, "--apply", "--json")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    for (access, ext), old in before.items():
        new = route_of(sim, access, ext)
        assert new is not None and (new["devicetype"], new["deviceId"]) == (old["devicetype"], old["deviceId"])
        assert report["map"][str(old["dnid"])] == {"dnid": str(new["dnid"]), "id": new["id"], "oldId": old["id"]}
    assert route_of(sim, "9911411", "1")["mediatypeId"] == 19  # type: ignore[index]
    notes = {r["old"]["dnid"]: r["console"] for r in report["routes"]}
    assert [(n["field"], n["recorded"], n["now"]) for n in notes["5"]] == [("editable", "1", "0")]
    assert [(n["field"], n["recorded"], n["now"]) for n in notes["1"]] == [("mediaTypeId", None, 5)]
    assert notes["2"] == []
    # Each route reported as it was created (stderr under --json), then the summary.
    assert applied.stderr.count("restored ") == 3

    text = restore(sim, lines)
    assert text.returncode == 0
    assert "editable: recorded 1, now 0" in text.stdout and "exists" in text.stdout


def test_an_interrupted_apply_can_be_run_again(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    lines = write(tmp_path / "audit.jsonl", delete_9911411(post, capsys))
    sim.inject({"stage": "create", "json": {"returnCode": "500", "description": "busy"}})
    first = restore(sim, lines, "--apply")
    assert first.returncode == 1
    assert first.stdout.count("restored ") == 2 and first.stdout.count("failed ") == 1
    assert "returnCode 500: busy" in first.stdout and "are not back" in first.stderr
    again = restore(sim, lines, "--apply", "--json")
    assert again.returncode == 0
    assert sorted(r["status"] for r in json.loads(again.stdout)["routes"]) == ["exists", "exists", "restored"]
    assert len({(r["accessCode"], r["extCode"]) for r in sim.routes() if r["accessCode"] == "9911411"}) == 3


def test_routes_recorded_without_their_record_make_the_restore_exit_1_naming_them(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    env(CEC_LOOKUP_BEFORE_DELETE="false")
    capsys.readouterr()
    assert post({"dnids": "1,2"}).status_code == 200  # no lookup first: dnids only
    lines = write(tmp_path / "audit.jsonl", audit_lines(capsys))
    shown = restore(sim, lines)
    assert shown.returncode == 1  # before: "cannot restore" and exit 0
    assert "dnid 1 (not_restorable), dnid 2 (not_restorable)" in shown.stderr
    assert "recorded by dnid only" in shown.stdout


def test_a_deletion_whose_lookup_cannot_finish_goes_ahead_flagged_not_restorable(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # At default settings, a tenant larger than CEC_MAX_LOOKUP_RECORDS: dnid 2 is on the
    # first page (looked up, restorable); 5150 is not reached, so it is sent without a record.
    env(CEC_MAX_LOOKUP_RECORDS="100")
    sim.add_routes(100, start=5100)
    capsys.readouterr()
    response = post({"dnids": "2,5150"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["notRestorable"] == ["5150"]
    out = capsys.readouterr().out
    summary = next(json.loads(line) for line in out.splitlines() if '"httpRequest"' in line)
    assert summary["notRestorable"] == 1  # what the log-based metric counts
    audits = [json.loads(line) for line in out.splitlines() if "called routes deleted" in line]
    (audit,) = [line["audit"] for line in audits]
    assert audit["notRestorable"] == ["5150"] and [r["dnid"] for r in audit["routes"]] == ["2", "5150"]
    shown = restore(sim, write(tmp_path / "audit.jsonl", audits))
    assert shown.returncode == 1
    assert "dnid 5150 (not_restorable)" in shown.stderr and "dnid 2 " not in shown.stderr


def test_every_credential_source_of_the_function_is_accepted(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    secrets: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    lines = write(tmp_path / "audit.jsonl", delete_9911411(post, capsys))
    credentials = tmp_path / "cec-credentials.json"
    credentials.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
    for settings in (
        {"CEC_CREDENTIALS_FILE": str(credentials)},
        {
            "CEC_CREDENTIALS_SECRET": "projects/test-project/secrets/cec-credentials/versions/latest",
            "SECRET_MANAGER_ENDPOINT": secrets.base_url,
        },
        {"CEC_APP_KEY": DEFAULT_APP_KEY, "CEC_APP_SECRET": DEFAULT_APP_SECRET},
    ):
        shown = restore(sim, lines, "--json", env=settings)
        assert shown.returncode == 0, (settings, shown.stderr)
        assert {r["status"] for r in json.loads(shown.stdout)["routes"]} == {"would_create"}
    nothing = restore(sim, lines, env={})
    assert nothing.returncode == 2 and "CEC_CREDENTIALS_FILE" in nothing.stderr


def signed(audit: dict[str, Any]) -> dict[str, Any]:
    sign(audit, KEY)
    return {"severity": "NOTICE", "message": "called routes deleted", "audit": audit}


def entry(routes: Any, **fields: Any) -> dict[str, Any]:
    audit = {"version": 2, "recordId": "r1", "requestId": "req-1", "recordsKnown": "full", "part": 1,
             "parts": 1, "routes": routes, "unverified": [], "notRestorable": [], **fields}  # fmt: skip
    return signed(audit)


GOOD = {"dnid": "3", "id": "3", "accessCode": "9911411", "extCode": "11", "devicetype": 1, "deviceId": 1}


def test_bad_input_is_refused_whole_one_line_per_entry_without_a_traceback(
    sim: SimulatorControl, tmp_path: Path
) -> None:
    sim.reset()
    bad = write(tmp_path / "bad.jsonl", [
        entry([GOOD]),
        entry([{**GOOD, "devicetype": "abc"}], recordId="r2"),
        entry(5, recordId="r3"),
        entry([{**GOOD, "deviceId": -1, "accessCode": "x" * 40}], recordId="r4"),
        entry([GOOD], recordId="r5", part=3, parts=2),
    ])  # fmt: skip
    shown = restore(sim, bad, "--apply")
    assert shown.returncode == 2
    lines = shown.stderr.splitlines()
    assert len(lines) == 5 and "Traceback" not in shown.stderr, shown.stderr
    assert "devicetype 'abc' is not 1 (skill queue) or 3 (IVR)" in lines[0]
    assert "routes is 5, not a list" in lines[1]
    assert "accessCode" in lines[2] and "deviceId -1" in lines[2]
    assert "part 3 of 2" in lines[3]
    assert lines[4] == "4 unusable entries: nothing was created."
    assert sim.calls("create") == []

    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    deep_line = tmp_path / "deep.jsonl"
    deep_line.write_text('{"message": "called routes deleted", "audit": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    cut = tmp_path / "cut.jsonl"
    cut.write_text(json.dumps(entry([GOOD]))[:200] + "\n")
    for path, said in (
        (binary, "binary data"),
        (deep, "nested too deeply"),
        (deep_line, "nested too deeply"),
        (cut, "not valid JSON"),
        (tmp_path / "missing.json", "cannot read"),
    ):
        shown = restore(sim, path, "--apply")
        assert shown.returncode == 2 and said in shown.stderr and "Traceback" not in shown.stderr, (path, shown.stderr)
    assert sim.calls("create") == []


def test_forged_entries_are_refused_and_nothing_is_created_from_them(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    (line,) = delete_9911411(post, capsys)
    altered = json.loads(json.dumps(line))
    altered["audit"]["routes"][0]["deviceId"] = 666  # the attacker's target
    unsigned = json.loads(json.dumps(line))
    del unsigned["audit"]["signature"]
    other = json.loads(json.dumps(line))
    sign(other["audit"], key_from_credentials("attacker", "attacker-secret"))
    sim.clear_calls()
    for forged, said in ((altered, "altered after signing"), (unsigned, "unsigned"), (other, "none of the keys")):
        path = write(tmp_path / "forged.jsonl", [forged])
        shown = restore(sim, path, "--apply")
        assert shown.returncode == 2 and said in shown.stderr and "nothing was created" in shown.stderr
        assert sim.calls("create") == []
        # A forged entry among genuine ones stops the whole run.
        mixed = write(tmp_path / "mixed.jsonl", [line, forged])
        assert restore(sim, mixed, "--apply").returncode == 2
        assert sim.calls("create") == []
    assert route_of(sim, "9911411", "") is None

    # The override is explicit and loud, and marks every route it lets through.
    path = write(tmp_path / "forged.jsonl", [altered])
    trusted = restore(sim, path, "--json", TRUST_FLAG)
    assert trusted.returncode == 0 and "WARNING: 1 entries used WITHOUT a valid signature" in trusted.stderr
    assert {r["verified"] for r in json.loads(trusted.stdout)["routes"]} == {False}
    assert sim.calls("create") == []


def test_records_signed_before_a_rotation_verify_with_the_old_credentials(
    sim: SimulatorControl, tmp_path: Path
) -> None:
    sim.reset()
    old = key_from_credentials("old-ak", "old-sk")
    audit = {"version": 2, "recordId": "r1", "requestId": "req-1", "recordsKnown": "full", "part": 1, "parts": 1,
             "routes": [GOOD], "unverified": [], "notRestorable": []}  # fmt: skip
    sign(audit, old)
    path = write(tmp_path / "audit.jsonl", [{"message": "called routes deleted", "audit": audit}])
    refused = restore(sim, path)
    assert refused.returncode == 2 and "none of the keys" in refused.stderr
    old_file = tmp_path / "old-credentials.json"
    old_file.write_text(json.dumps({"app_key": "old-ak", "app_secret": "old-sk"}))
    accepted = restore(sim, path, "--verify-credentials", old_file)
    assert accepted.returncode == 0 and "exists" in accepted.stdout


def test_a_record_with_parts_missing_says_so_and_unverified_routes_only_when_asked(
    sim: SimulatorControl, tmp_path: Path
) -> None:
    sim.reset()
    second = {**GOOD, "dnid": "1", "extCode": ""}
    parts = [
        entry([GOOD], parts=3, deletedCount=3),
        entry([], part=2, parts=3, unverified=[second]),
    ]
    path = write(tmp_path / "audit.jsonl", list(reversed(parts)))
    shown = restore(sim, path, "--json")
    assert shown.returncode == 1
    assert "part(s) 3 of 3 are not in the input" in shown.stderr
    assert [r["old"]["dnid"] for r in json.loads(shown.stdout)["routes"]] == ["3"]
    assert "1 route(s) recorded as unverified" in shown.stderr and "--include-unverified" in shown.stderr
    twice = restore(sim, path, path, "--json")  # the same parts twice count once
    assert [r["old"]["dnid"] for r in json.loads(twice.stdout)["routes"]] == ["3"]
    both = restore(sim, path, "--json", "--include-unverified")
    assert [r["old"]["dnid"] for r in json.loads(both.stdout)["routes"]] == ["3", "1"]


def test_no_mutation_of_an_entry_escapes_the_checks_as_an_exception() -> None:
    """Random damage to a valid record (types swapped, fields dropped, values nested
    deeply): every entry is either usable or one problem line, never a crash."""
    rng = random.Random(19)
    base = entry([GOOD, {**GOOD, "dnid": "4", "mediaTypeId": 19, "editable": "1"}], unverified=[GOOD])["audit"]
    weird: list[Any] = [None, True, 1.5, -1, 2**70, "", "abc", [], {}, [1, [2]], {"a": {}}, "\u2028\ud800", "9" * 5000]
    deep: Any = []
    for _ in range(900):
        deep = [deep]
    weird.append(deep)
    for _ in range(400):
        audit = json.loads(json.dumps({k: v for k, v in base.items() if k != "signature"}))
        for _ in range(rng.randint(1, 4)):
            routes = [r for k in ("routes", "unverified") if isinstance(audit.get(k), list) for r in audit[k]]
            dicts = [r for r in routes if isinstance(r, dict)]
            target = audit if rng.random() < 0.4 or not dicts else rng.choice(dicts)
            name = rng.choice(list(target) or ["x"])
            if rng.random() < 0.2:
                target.pop(name, None)
            else:
                target[name] = rng.choice(weird)
        records, problems, untrusted = check([Entry("x", audit)], [KEY], trust=True, unverified=True)
        assert untrusted == 1 and len(problems) <= 1
        assert problems or records.routes or records.incomplete or audit.get("routes") == []
