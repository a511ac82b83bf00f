"""Plan tokens, duplicate JSON members, Host headers and webhook ids over real HTTP: the
functions-framework server process (gunicorn) against the simulator on loopback, raw
sockets where a client library would not send the request.

One server serves the module; every test resets the simulator (the ``sim`` fixture)
and reads the simulator's own call record to see that nothing was sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY, server_env
from tests.edge import rawhttp

SIGNING_KEY = "hardening-plan-signing-key-0123456789abcdef"
WEBHOOK_KEY = b"hardening-webhook-key-0123456789"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
SCOPE = "api_key:ops"


@pytest.fixture(scope="module")
def server(sim_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    env = server_env(
        CALLER_AUTH="api_key,webhook",
        API_KEYS=f"ops={API_KEY}",
        WEBHOOK_SECRET=WEBHOOK_SECRET,
        CEC_BASE_URL=sim_server.url,
        CEC_APP_KEY=DEFAULT_APP_KEY,
        CEC_APP_SECRET=DEFAULT_APP_SECRET,
        PLAN_SIGNING_KEYS=SIGNING_KEY,
        IDEMPOTENCY_TTL_SECONDS="0",
    )
    with FunctionServer(env, tmp_path_factory.mktemp("hardening") / "server.log") as running:
        yield running


def post(server: FunctionServer, body: Any, session: Any = requests) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
    response: requests.Response = session.post(server.url, data=data, headers=headers, timeout=30)
    return response


def problem_code(response: requests.Response) -> tuple[int, str | None]:
    assert response.headers["Content-Type"] == "application/problem+json", response.text[:200]
    return response.status_code, response.json().get("code")


def dry_run_token(server: FunctionServer) -> str:
    answer = post(server, {"dnids": "1,2", "dryRun": True})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["planToken"]
    return token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(raw: bytes, key: str = SIGNING_KEY) -> str:
    """A plan token over the payload ``raw`` (JSON text), made the way issue() makes one."""
    kid = hashlib.sha256(key.encode()).hexdigest()[:8]
    signed = f"p1.{kid}.{b64(zlib.compress(raw, 9))}"
    return f"{signed}.{b64(hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest())}"


def payload_of(token: str) -> dict[str, Any]:
    body = token.split(".")[2]
    data: dict[str, Any] = json.loads(zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    return data


# -- item 1: a non-ASCII payload is refused, not a 500 -----------------------------------


def test_a_token_with_non_ascii_characters_is_plan_invalid(server: FunctionServer, sim: SimulatorControl) -> None:
    version, kid, payload, mac = dry_run_token(server).split(".")
    sim.clear_calls()
    for token in (
        f"{version}.{kid}.é.{'A' * 43}",
        f"{version}.{kid}.{payload[:5]}\u00fc{payload[5:]}.{mac}",
        f"{version}.{kid}.{payload}.{mac[:-1]}\u0130",
    ):
        assert problem_code(post(server, {"planToken": token})) == (400, "plan_invalid")
    assert sim.calls() == []


# -- item 2: every one-character change of a token is refused ----------------------------

# Characters a copy and paste, a URL or a forger adds: padding, junk, Unicode whitespace
# (NBSP, ideographic space, line separator, NEL), base64url's own and a dot.
MUTATIONS = ["=", "!", " ", "\n", "\t", "\u00a0", "\u3000", "\u2028", "\u0085", "\u200b", "A", "_", "-", ".", "é"]
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def one_character_changes(token: str) -> Iterator[tuple[str, str]]:
    """Deterministic: at every position a delete, an insert and two replacements (one of
    MUTATIONS in turn, and the neighbouring base64url character, which keeps the token
    decodable and, in a last character, may even decode to the same bytes); every one
    of MUTATIONS inserted and replaced at the token's ends and around its dots."""
    n = len(token)
    for i in range(n):
        yield f"delete {i}", token[:i] + token[i + 1 :]
        yield f"insert {i}", token[:i] + MUTATIONS[i % len(MUTATIONS)] + token[i:]
        yield f"replace {i}", token[:i] + MUTATIONS[i % len(MUTATIONS)] + token[i + 1 :]
        if token[i] in B64URL:
            neighbour = B64URL[B64URL.index(token[i]) ^ 1]
            yield f"neighbour {i}", token[:i] + neighbour + token[i + 1 :]
    dots = [i for i, c in enumerate(token) if c == "."]
    for i in sorted({0, 1, n - 1, *dots, *(d + 1 for d in dots)}):
        for char in MUTATIONS:
            yield f"insert {char!r} at {i}", token[:i] + char + token[i:]
            yield f"replace {i} with {char!r}", token[:i] + char + token[i + 1 :]
    for char in [*MUTATIONS, "!!", "=="]:
        yield f"append {char!r}", token + char


def test_every_one_character_change_of_a_token_is_plan_invalid(server: FunctionServer, sim: SimulatorControl) -> None:
    good = dry_run_token(server)
    changes = {mutated: name for name, mutated in one_character_changes(good) if mutated != good}
    assert len(changes) > 4 * len(good)
    print(f"\n{len(changes)} changed tokens of a {len(good)}-character token")
    sim.clear_calls()
    with requests.Session() as session:
        wrong = {
            name: problem_code(response)
            for mutated, name in changes.items()
            if problem_code(response := post(server, {"planToken": mutated}, session)) != (400, "plan_invalid")
        }
    assert wrong == {}
    assert sim.calls() == []
    assert post(server, {"planToken": good}).json()["status"] == "deleted"  # the original still applies


# -- item 3: a signed payload out of bounds is refused, not a 500 ------------------------


def _raw(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda raw, p: raw.replace(f'"exp":{p["exp"]}', '"exp":1e400'), id="exp-1e400"),
        pytest.param(lambda raw, p: raw.replace(f'"exp":{p["exp"]}', '"exp":-1e30'), id="exp-minus-1e30"),
        pytest.param(lambda raw, p: raw.replace(f'"exp":{p["exp"]}', '"exp":-1'), id="exp-negative"),
        pytest.param(lambda raw, p: raw.replace(f'"exp":{p["exp"]}', '"exp":' + "9" * 40), id="exp-40-digits"),
        pytest.param(lambda raw, p: raw.replace(f'"exp":{p["exp"]}', '"exp":NaN'), id="exp-nan"),
        pytest.param(lambda raw, p: raw.replace(f'"iat":{p["iat"]}', '"iat":1e400'), id="iat-1e400"),
        pytest.param(lambda raw, p: raw.replace('"r":[', '"r":[' + "[" * 100_000, 1), id="nested-100000"),
        pytest.param(lambda raw, p: raw.replace('"r":[', '"r":[[[[', 1) + "]]]", id="nested-4"),
        pytest.param(lambda raw, p: "[" * 100_000 + "]" * 100_000, id="only-brackets"),
    ],
)
def test_a_signed_payload_out_of_bounds_is_plan_invalid(
    server: FunctionServer, sim: SimulatorControl, tamper: Any
) -> None:
    payload = payload_of(dry_run_token(server))
    sim.clear_calls()
    token = sign(tamper(_raw(payload), payload).encode())
    assert problem_code(post(server, {"planToken": token})) == (400, "plan_invalid")
    assert sim.calls() == []
    # The same payload re-signed untouched applies: the refusal was the bounds', not the signing's.
    assert post(server, {"planToken": sign(_raw(payload).encode())}).json()["status"] == "deleted"


def test_brackets_inside_strings_do_not_count_as_nesting(server: FunctionServer, sim: SimulatorControl) -> None:
    payload = payload_of(dry_run_token(server))
    payload["pid"] = "plan-[[[[{{{{" + '\\"[' * 10
    answer = post(server, {"planToken": sign(_raw(payload).encode())})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "deleted"


# -- item 4: a member twice in one object is refused, naming it --------------------------

DUPLICATES = {
    "dryRun": b'{"dnids":"1","dryRun":true,"dryRun":false}',
    "accessCode": b'{"routes":[{"accessCode":"4008000001","accessCode":"9911"}]}',
    "dnids": b'{"dnids":"1","dnids":"2"}',
}


@pytest.mark.parametrize("member", DUPLICATES)
def test_duplicate_members_are_malformed_json_naming_the_member(
    server: FunctionServer, sim: SimulatorControl, member: str
) -> None:
    sim.clear_calls()
    answer = post(server, DUPLICATES[member])
    assert problem_code(answer) == (400, "malformed_json")
    assert f'"{member}"' in answer.json()["detail"]
    assert sim.calls() == []
    assert {1, 2} <= {r["dnid"] for r in sim.routes()}


def webhook_headers(msg_id: bytes, body: bytes, key: bytes = WEBHOOK_KEY) -> dict[str, bytes]:
    timestamp = str(int(time.time())).encode()
    signature = base64.b64encode(hmac.new(key, msg_id + b"." + timestamp + b"." + body, hashlib.sha256).digest())
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": b"v1," + signature}


def webhook_request(port: int, msg_id: bytes, body: bytes) -> rawhttp.Answer:
    """A Standard Webhooks request whose header bytes are sent exactly as given."""
    lines = [
        b"POST / HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Content-Type: application/json",
        b"Content-Length: " + str(len(body)).encode(),
        b"Connection: close",
    ]
    lines += [name.encode() + b": " + value for name, value in webhook_headers(msg_id, body).items()]
    return rawhttp.exchange(port, b"\r\n".join(lines) + b"\r\n\r\n" + body)


def test_a_signed_webhook_body_with_duplicate_members_is_malformed_json(
    server: FunctionServer, sim: SimulatorControl
) -> None:
    body = b'{"dnids":"1","dryRun":true,"dryRun":false}'
    answer = webhook_request(server.port, b"msg_dup", body)
    assert (answer.status, answer.json()["code"]) == (400, "malformed_json")
    assert sim.calls() == []
    signed = webhook_request(server.port, b"msg_once", b'{"dnids":"1","dryRun":true}')
    assert (signed.status, signed.json()["status"]) == (200, "planned")  # the signing is right


# -- item 7: a webhook-id outside ASCII verifies -----------------------------------------


@pytest.mark.parametrize("msg_id", ["msg_é", "msg_\u2603_雪", "msg_\U0001f600"])
def test_a_correctly_signed_webhook_with_a_non_ascii_id_is_accepted(
    server: FunctionServer, sim: SimulatorControl, msg_id: str
) -> None:
    answer = webhook_request(server.port, msg_id.encode("utf-8"), b'{"dnids":"1","dryRun":true}')
    assert answer.status == 200, answer.body[:300]
    assert answer.json()["status"] == "planned"


# -- item 6: whatever Flask and Werkzeug answer themselves is problem details ------------

BAD_HOSTS = ["a..b", "x" * 64 + ".example", "a..b:8080", "."]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_an_invalid_host_header_gets_a_json_problem_on_every_path(server: FunctionServer, host: str) -> None:
    body = b'{"dnids":"1"}'
    requests_ = {
        "POST /": (
            f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + body,
        "GET /healthz": f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(),
        "GET /robots.txt": f"GET /robots.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(),
        "GET /openapi.json": f"GET /openapi.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(),
    }
    for name, raw in requests_.items():
        answer = rawhttp.exchange(server.port, raw)
        assert answer.headers["content-type"] == "application/problem+json", (name, answer.body[:200])
        problem = answer.json()
        assert (answer.status, problem["status"]) == (400, 400), name
        assert problem["code"] == "bad_request"
        assert problem["requestId"]


def test_every_werkzeug_http_exception_renders_as_problem_details(app: Any) -> None:
    from werkzeug.exceptions import default_exceptions

    from function.edge.handler import framework_error

    assert len(default_exceptions) > 30
    for status, exc_class in default_exceptions.items():
        with app.test_request_context("/somewhere"):
            response = framework_error(exc_class())
        assert response.status_code == status
        assert response.mimetype == "application/problem+json"
        problem = json.loads(response.get_data())
        assert problem["status"] == status and problem["code"].replace("_", "").isalpha(), problem
        assert problem["title"] and problem["detail"]
