"""Caller authentication at its edges (issue 9, items 12 and 13).

Unauthenticated requests cost no Secret Manager reads beyond a floor-cached one, a
method whose secret cannot be read does not block another method that accepts the
request, configurations that can accept nobody say so, and what callers send is
read strictly: ASCII whitespace only around a key, strict base64 signatures,
decimal-digit timestamps.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from cec_sim import FakeSecretManagerControl, SimulatorControl
from function import __version__
from tests.conftest import API_KEY
from tests.test_auth import BODY, WEBHOOK_SECRET, send, signed_headers
from tests.test_requests import assert_problem

KEYS_SECRET = "projects/test-project/secrets/api-keys"
ALWAYS = 100


def _key_reads(secrets: FakeSecretManagerControl) -> int:
    return sum(1 for call in secrets.calls() if "api-keys" in call)


def test_unauthenticated_requests_do_not_each_read_the_keys_secret(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl, sim: SimulatorControl
) -> None:
    secrets.add_version(KEYS_SECRET, f'["{API_KEY}"]')
    env(API_KEYS=None, API_KEYS_SECRET=KEYS_SECRET + "/versions/1", SECRET_CACHE_TTL_SECONDS="0")
    for attempt in range(10):
        assert_problem(send(client, {"X-API-Key": f"guess-{attempt}"}), 401, "unauthenticated")
    assert _key_reads(secrets) == 1  # a floor on the TTL, whatever SECRET_CACHE_TTL_SECONDS says
    assert send(client, {"X-API-Key": API_KEY}).status_code == 200
    assert _key_reads(secrets) == 1
    assert sim.calls("delete")  # the right key still works


def test_concurrent_callers_share_one_read(
    app: Any, env: Callable[..., None], secrets: FakeSecretManagerControl
) -> None:
    secrets.add_version(KEYS_SECRET, f'["{API_KEY}"]')
    secrets.configure(latency=0.5)
    env(API_KEYS=None, API_KEYS_SECRET=KEYS_SECRET + "/versions/1", SECRET_CACHE_TTL_SECONDS="0")
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def one(index: int) -> None:
        barrier.wait()
        statuses.append(send(app.test_client(), {"X-API-Key": f"wrong-{index}"}).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [401] * 6
    assert _key_reads(secrets) == 1


def test_secret_manager_down_costs_one_bounded_read_for_many_requests(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl
) -> None:
    secrets.inject({"status": 503, "times": ALWAYS})
    env(API_KEYS=None, API_KEYS_SECRET=KEYS_SECRET + "/versions/1", SECRET_CACHE_TTL_SECONDS="0")
    started = time.monotonic()
    for attempt in range(10):
        problem = assert_problem(send(client, {"X-API-Key": f"guess-{attempt}"}), 503, "secret_unavailable")
        assert problem["retryable"] is True
    assert time.monotonic() - started < 2.0  # the failure is held, not re-read ten times
    assert _key_reads(secrets) == 3  # the attempts of one read, not ten reads' worth


def test_an_unreadable_keys_secret_does_not_block_a_valid_webhook(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl
) -> None:
    secrets.inject({"status": 503, "times": ALWAYS})
    env(
        CALLER_AUTH="api_key,webhook",
        API_KEYS=None,
        API_KEYS_SECRET=KEYS_SECRET + "/versions/1",
        WEBHOOK_SECRET=WEBHOOK_SECRET,
        CEC_CREDENTIALS_SECRET=None,
        CEC_APP_KEY="sim-app-key",
        CEC_APP_SECRET="sim-app-secret",
    )
    headers = {**signed_headers(BODY), "X-API-Key": "anything"}
    response = send(client, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    # Without a valid signature the unreadable keys are the answer: 503, not 401.
    assert_problem(send(client, {"X-API-Key": "anything"}), 503, "secret_unavailable")


@pytest.mark.parametrize("keys", [",", "[]", '[""]', " , \n ,", "[1, 2]"])
def test_api_keys_with_no_usable_key_is_not_configured(
    client: FlaskClient, env: Callable[..., None], sim: SimulatorControl, keys: str
) -> None:
    env(API_KEYS=keys)
    health = client.get("/healthz")
    assert health.get_json() == {"status": "ok", "configured": False, "version": __version__}
    problem = assert_problem(send(client, {"X-API-Key": "anything"}), 503, "not_configured")
    assert "API_KEYS holds no usable key" in problem["detail"]
    assert sim.calls() == []


def test_a_keys_secret_with_no_usable_key_is_not_configured(
    client: FlaskClient, env: Callable[..., None], secrets: FakeSecretManagerControl
) -> None:
    secrets.add_version(KEYS_SECRET, '[""]')
    env(API_KEYS=None, API_KEYS_SECRET=KEYS_SECRET + "/versions/1")
    assert_problem(send(client, {"X-API-Key": "anything"}), 503, "not_configured")


@pytest.mark.parametrize("secret", ["whsec_" + "A" * 17, "whsec_" + "A" * 21])
def test_an_undecodable_webhook_secret_is_not_configured(
    client: FlaskClient, env: Callable[..., None], secret: str
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=secret, API_KEYS=None)
    assert client.get("/healthz").get_json() == {"status": "ok", "configured": False, "version": __version__}
    problem = assert_problem(send(client, signed_headers(BODY)), 503, "not_configured")
    assert "WEBHOOK_SECRET" in problem["detail"]


# NBSP, NEL and the information separator U+001F: str.strip() removes all three.
@pytest.mark.parametrize("pad", ["\u00a0", "\u0085", "\u001f"])
def test_only_ascii_whitespace_is_trimmed_from_a_key(client: FlaskClient, env: Callable[..., None], pad: str) -> None:
    env()
    assert send(client, {"X-API-Key": f" \t{API_KEY} "}).status_code == 200
    assert_problem(send(client, {"X-API-Key": pad + API_KEY}), 401, "unauthenticated")
    assert_problem(send(client, {"X-API-Key": API_KEY + pad}), 401, "unauthenticated")


def _junk(signature_header: str) -> list[str]:
    version, _, sig = signature_header.partition(",")
    return [
        f"{version},{sig}!!",  # junk after the signature
        f"{version},{sig}AAAA",  # more base64 after the padding
        f"{version},{sig[:10]}*{sig[10:]}",  # junk inside
        f"{version},{sig[:10]}\t{sig[10:]}",
        f"{version},{sig[:-1]}",  # padding missing
        f"{version},{sig[:-2]}{chr(ord(sig[-2]) + 1)}=",  # stray bits in the last character
    ]


@pytest.mark.parametrize("index", range(6))
def test_webhook_signatures_are_strict_base64(client: FlaskClient, env: Callable[..., None], index: int) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    headers = signed_headers(BODY)
    assert send(client, headers).status_code == 200
    spoiled = {**headers, "webhook-signature": _junk(headers["webhook-signature"])[index]}
    assert_problem(send(client, spoiled), 401, "unauthenticated")


@pytest.mark.parametrize(
    "form",
    [
        lambda t: f"{t}.9",
        lambda t: f"+{t}",
        lambda t: f"{t}e0",
        lambda t: f"{t / 1e9!r}e9",
        lambda t: f" {t}",
        lambda t: "".join(chr(ord(c) - ord("0") + 0x0660) for c in str(t)),  # Arabic-Indic digits
    ],
    ids=["fraction", "plus", "exponent", "scientific", "space", "unicode-digits"],
)
def test_webhook_timestamps_are_decimal_digits_only(
    client: FlaskClient, env: Callable[..., None], form: Callable[[int], str]
) -> None:
    env(CALLER_AUTH="webhook", WEBHOOK_SECRET=WEBHOOK_SECRET, API_KEYS=None)
    now = int(time.time())
    headers = signed_headers(BODY, at=now)  # signed over the plain digits
    headers["webhook-timestamp"] = form(now)
    problem = assert_problem(send(client, headers), 401, "unauthenticated")
    assert "webhook-timestamp" in problem["detail"] or "webhook-signature" in problem["detail"]


def test_the_webhook_key_is_the_decoded_secret() -> None:
    from function.callers.auth import webhook_key

    assert webhook_key(WEBHOOK_SECRET) == base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    assert webhook_key("whsec_" + "A" * 17) is None
    assert webhook_key("whsec_") is None
