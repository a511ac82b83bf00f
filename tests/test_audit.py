"""The audit record: what it holds on every outcome, parts cut by encoded size (never by
the log formatter), and signatures that the restore verifies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import TestResponse

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from function import log
from function.callers import audit
from function.callers.audit import (
    FIELD_BYTES,
    PART_BYTES,
    SigningKey,
    audit_result,
    key_from_credentials,
    keys_from_setting,
    sign,
    verify,
)
from function.callers.auth import Caller
from function.cec.lookup import RouteRecord
from function.models import DeleteResult, RouteResult
from tests.conftest import CREDENTIALS_SECRET

KEY = key_from_credentials("ak-0123456789", "sk-0123456789abcdef")
CALLER = Caller(method="api_key", principal="api_key:ops", scope="api_key:ops")


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[Any]]]:
    """The audit lines written through the real formatter, parsed."""
    monkeypatch.setattr(audit, "_signing_key", KEY)
    log.setup()
    capsys.readouterr()

    def lines() -> list[Any]:
        out = capsys.readouterr().out.splitlines()
        return [json.loads(x) for x in out if '"called routes deleted"' in x]

    yield lines


def record(dnid: int, desc: str = "salesQueue", access: str = "4008001", **changes: Any) -> RouteRecord:
    fields: dict[str, Any] = {
        "id": str(1130000000000000000 + dnid), "dnid": str(dnid), "access_code": access, "ext_code": str(dnid),
        "devicetype": 1, "device_id": 7, "device_desc": desc, "media_type_id": 19, "editable": "0",
    }  # fmt: skip
    fields.update(changes)
    return RouteRecord(**fields)


def result(dnids: list[str], outcomes: dict[str, str] | None = None) -> DeleteResult:
    results = None
    if outcomes is not None:
        results = [RouteResult(dnid=d, outcome=o, id=f"id-{d}") for d, o in outcomes.items()]  # type: ignore[arg-type]
    return DeleteResult(
        status="deleted", dnids=dnids, deleted=["n1"], failed=[], ids=["i1"], batches=[], results=results,
        request_id="req-1",
    )  # fmt: skip


def test_a_clean_plain_dnids_delete_records_every_dnid_sent_as_deleted_and_not_restorable(
    written: Callable[[], list[Any]],
) -> None:
    audit_result(result(["5", "6"]), None, CALLER, "dnids", None)
    (line,) = written()
    part = line["audit"]
    assert [r["dnid"] for r in part["routes"]] == ["5", "6"]
    assert part["notRestorable"] == ["5", "6"] and part["recordsKnown"] == "dnid"
    assert part["apiReported"] == {"names": ["n1"], "ids": ["i1"]}
    assert (part["requestId"], part["part"], part["parts"]) == ("req-1", 1, 1)
    assert verify(part, [KEY]) is None


def test_every_sent_route_that_is_gone_is_recorded_whatever_its_outcome_and_records(
    written: Callable[[], list[Any]],
) -> None:
    outcomes = {
        "1": "deleted", "2": "deleted", "3": "already_absent", "4": "unknown", "5": "failed",
        "6": "protected", "7": "not_sent", "8": "changed", "9": "deleted",
    }  # fmt: skip
    sent = ["1", "2", "3", "4", "5", "7", "8"]  # 6 held back, 9 never sent
    records = {d: record(int(d)) for d in ("1", "3", "5", "6", "9")}
    audit_result(result(sent, outcomes), records, CALLER, "routes", "plan-1")
    (line,) = written()
    part = line["audit"]
    assert part["routes"][0] == {
        "dnid": "1", "id": "1130000000000000001", "accessCode": "4008001", "extCode": "1", "devicetype": 1,
        "deviceId": 7, "deviceDesc": "salesQueue", "mediaTypeId": 19, "editable": "0",
    }  # fmt: skip
    assert part["routes"][1] == {"dnid": "2", "id": "id-2"}  # no record: never dropped
    assert [r["dnid"] for r in part["unverified"]] == ["3", "4"]
    assert part["unverified"][0]["accessCode"] == "4008001"
    assert part["notRestorable"] == ["2", "4"]
    assert (part["recordsKnown"], part["deletedCount"], part["unverifiedCount"]) == ("partial", 2, 2)
    assert part["planId"] == "plan-1" and part["apiReported"] == {"names": ["n1"], "ids": ["i1"]}
    assert verify(part, [KEY]) is None


def test_full_records_carry_no_api_names_and_nothing_gone_writes_nothing(written: Callable[[], list[Any]]) -> None:
    audit_result(result(["1"], {"1": "deleted"}), {"1": record(1)}, CALLER, "ids", None)
    (line,) = written()
    assert line["audit"]["recordsKnown"] == "full" and "apiReported" not in line["audit"]
    audit_result(result(["1", "2"], {"1": "failed", "2": "not_sent"}), {}, CALLER, "ids", None)
    assert written() == []


SCRIPTS = {
    "ascii": "x" * 500,
    "cjk": "客服热线技能队列" * 63,  # 504 characters
    "emoji": "\U0001f4de\u260e" * 250,
    "separators": "\u2028\u2029\x7f\x9f" * 125,
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_big_hotlines_are_split_by_encoded_size_and_never_cut(written: Callable[[], list[Any]], script: str) -> None:
    desc = SCRIPTS[script]
    count = 1000
    records = {str(d): record(d, desc=desc + str(d)) for d in range(1, count + 1)}
    audit_result(result(list(records)), records, CALLER, "routes", None)
    lines = written()
    parts = [line["audit"] for line in lines]
    assert len(parts) > 1
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert {(p["parts"], p["requestId"], p["recordId"]) for p in parts} == {(len(parts), "req-1", parts[0]["recordId"])}
    routes = [r for p in parts for r in p["routes"]]
    assert [r["deviceDesc"] for r in routes] == [desc + str(d) for d in range(1, count + 1)]
    for line, part in zip(lines, parts, strict=True):
        assert not {"truncated", "truncatedOutsideAudit"} & set(line)
        assert len(json.dumps(part, ensure_ascii=True)) <= PART_BYTES
        assert len(json.dumps(line, ensure_ascii=False).encode("utf-8", "surrogatepass")) < log.MAX_LINE_BYTES
        assert verify(part, [KEY]) is None


def test_a_route_too_large_for_a_part_gets_one_of_its_own_with_bounded_fields(
    written: Callable[[], list[Any]],
) -> None:
    huge_desc = "队" * 300_000
    records = {
        "1": record(1),
        "2": record(2, desc=huge_desc),
        "3": record(3, access="9" * 70_000),
        "4": record(4),
    }
    audit_result(result(list(records)), records, CALLER, "routes", None)
    parts = [line["audit"] for line in written()]
    assert [[r["dnid"] for r in p["routes"]] for p in parts] == [["1"], ["2"], ["3"], ["4"]]
    big = parts[1]["routes"][0]
    assert big["accessCode"] == "4008001" and big["devicetype"] == 1 and big["deviceId"] == 7
    assert huge_desc.startswith(big["deviceDesc"]) and len(json.dumps(big["deviceDesc"])) <= FIELD_BYTES
    assert big["boundedFields"] == {
        "deviceDesc": {
            "chars": 300_000,
            "keptChars": len(big["deviceDesc"]),
            "sha256": hashlib.sha256(huge_desc.encode()).hexdigest(),
        }
    }
    assert set(parts[2]["routes"][0]["boundedFields"]) == {"accessCode"}
    for part in parts:
        assert len(json.dumps(part, ensure_ascii=True)) <= PART_BYTES
        assert verify(part, [KEY]) is None


def test_the_formatter_never_cuts_an_audit_object(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup()
    capsys.readouterr()
    entry = {"routes": [{"dnid": str(d), "deviceDesc": "d" * 500} for d in range(200)]}
    log.event(20, "called routes deleted", audit=entry, other="o" * 200_000)
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["audit"] == entry  # before: 20 routes and "truncated": true
    assert "truncated" not in line and line["truncatedOutsideAudit"] is True
    assert len(line["other"]) < 2000
    # Even an object above the line cap (the writer keeps parts at half of it) stays whole.
    bigger = {"routes": [{"dnid": str(d), "deviceDesc": "d" * 500} for d in range(300)]}
    labels = {"audit": "cec-called-routes"}
    log.event(20, "called routes deleted", audit=bigger, **{"logging.googleapis.com/labels": labels})
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["audit"] == bigger and line["logging.googleapis.com/labels"] == labels


def test_signatures_refuse_alterations_missing_signatures_and_other_keys() -> None:
    part: dict[str, Any] = {"version": 2, "requestId": "r", "part": 1, "parts": 1, "routes": [{"deviceId": 7}]}
    sign(part, KEY)
    assert verify(part, [KEY]) is None
    # As Cloud Logging gives numbers back (doubles), in another key order: still verified.
    doubled = {k: part[k] for k in reversed(list(part))} | {"part": 1.0, "routes": [{"deviceId": 7.0}]}
    assert verify(doubled, [KEY]) is None
    altered = json.loads(json.dumps(part))
    altered["routes"][0]["deviceId"] = 8
    assert "altered" in str(verify(altered, [KEY]))
    unsigned = {k: v for k, v in part.items() if k != "signature"}
    assert "unsigned" in str(verify(unsigned, [KEY]))
    other = key_from_credentials("ak-0123456789", "another-secret")
    assert "none of the keys" in str(verify(part, [other]))
    assert verify(part, [other, KEY]) is None


def test_the_key_is_derived_per_purpose_and_names_no_secret() -> None:
    assert key_from_credentials("a", "s") != key_from_credentials("b", "s") != key_from_credentials("a", "t")
    dedicated = keys_from_setting("first-key, second-key")
    assert [k.key_id.split(":")[0] for k in dedicated] == ["key", "key"] and dedicated[0] != dedicated[1]
    assert KEY.key_id.startswith("aksk:") and "sk-0123456789abcdef" not in repr(KEY)
    # Not the SK itself, not an HMAC of the label alone: a key of its own.
    assert KEY.secret not in (b"sk-0123456789abcdef", SigningKey("x", b"sk-0123456789abcdef").secret)


def _audit_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out.splitlines()
    return [json.loads(x)["audit"] for x in out if '"called routes deleted"' in x]


def test_default_settings_sign_with_the_ak_sk_and_a_dedicated_key_replaces_it(
    env: Callable[..., None], post: Callable[..., TestResponse], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert post({"dnids": "1"}).status_code == 200
    (part,) = _audit_lines(capsys)
    derived = key_from_credentials(DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
    assert part["signature"]["keyId"] == derived.key_id and verify(part, [derived]) is None
    assert DEFAULT_APP_SECRET not in json.dumps(part)

    env(AUDIT_SIGNING_KEYS="dedicated-audit-key-0123456789,retired-key-0123456789")
    assert post({"dnids": "2"}).status_code == 200
    (part,) = _audit_lines(capsys)
    (dedicated, _) = keys_from_setting("dedicated-audit-key-0123456789,retired-key-0123456789")
    assert part["signature"]["keyId"] == dedicated.key_id and verify(part, [derived]) is not None
    assert verify(part, [dedicated]) is None


def test_an_idempotent_replay_writes_no_second_record(
    env: Callable[..., None], post: Callable[..., TestResponse], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    first = post({"dnids": "1,2"}, headers={"Idempotency-Key": "audit-once"})
    again = post({"dnids": "1,2"}, headers={"Idempotency-Key": "audit-once"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["requestId"] == first.get_json()["requestId"]
    (part,) = _audit_lines(capsys)
    assert part["requestId"] == first.get_json()["requestId"]


def test_after_an_ak_sk_rotation_new_records_are_signed_with_the_new_key(
    env: Callable[..., None],
    post: Callable[..., TestResponse],
    sim: SimulatorControl,
    secrets: FakeSecretManagerControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env(SECRET_CACHE_TTL_SECONDS="0")
    capsys.readouterr()
    assert post({"dnids": "1"}).status_code == 200
    (before,) = _audit_lines(capsys)
    sim.configure(app_key="rotated-ak-0123456789", app_secret="rotated-sk-0123456789abcdef")
    rotated = {"app_key": "rotated-ak-0123456789", "app_secret": "rotated-sk-0123456789abcdef"}
    secrets.add_version(CREDENTIALS_SECRET, json.dumps(rotated))
    assert post({"dnids": "2"}).status_code == 200
    (after,) = _audit_lines(capsys)
    old = key_from_credentials(DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
    new = key_from_credentials(rotated["app_key"], rotated["app_secret"])
    assert verify(before, [old]) is None and verify(after, [new]) is None
    assert verify(before, [new]) is not None and verify(after, [old]) is not None
