"""CALLER_AUTH=iam fails closed: a token, a verified signature or Cloud Run's marker, and the allow-list.

Tokens with a real signature are signed here with google-auth's own signer and verified
by the function with google-auth against certificates served over loopback HTTP in
Google's format (``{key id: PEM certificate}``), through IAM_CERTS_URL.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from google.auth import crypt, jwt

from cec_sim import FakeSecretManagerControl, SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from cec_sim.function_server import FunctionServer
from tests.conftest import CREDENTIALS_SECRET, ROOT, server_env
from tests.test_auth import BODY, send
from tests.test_requests import assert_problem

AUDIENCE = "https://europe-west1-p.cloudfunctions.net/cec-called-routes"
SCHEDULER = "scheduler@p.iam.gserviceaccount.com"
OPERATOR = "Ops@Example.com"
ALLOWED = f"serviceAccount:{SCHEDULER}, user:{OPERATOR.lower()}"
BODY_2 = json.dumps({"dnids": "2"}).encode()


def _key_and_cert() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


class KeySet:
    """Google's certificate endpoint, on loopback: serves the published keys, counts fetches."""

    def __init__(self) -> None:
        self.published_key, published_cert = _key_and_cert()
        self.other_key, _ = _key_and_cert()  # a key nobody published
        self.body = json.dumps({"k1": published_cert}).encode()
        self.fetches = 0
        self.status = 200
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                keys.fetches += 1
                self.send_response(keys.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=19000, must-revalidate, no-transform")
                self.send_header("Content-Length", str(len(keys.body)))
                self.end_headers()
                self.wfile.write(keys.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/v1/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sign(self, *, key: bytes | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "sub": "1234",
            "email": SCHEDULER,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        signer = crypt.RSASigner.from_string(key or self.published_key, key_id="k1")
        return jwt.encode(signer, {k: v for k, v in claims.items() if v is not None}).decode()


@pytest.fixture(scope="module")
def keys() -> Iterator[KeySet]:
    key_set = KeySet()
    yield key_set
    key_set.server.shutdown()


@pytest.fixture
def iam_env(env: Callable[..., None], keys: KeySet) -> Callable[..., None]:
    def apply(**overrides: str | None) -> None:
        values: dict[str, str | None] = {
            "CALLER_AUTH": "iam",
            "API_KEYS": None,
            "IAM_ALLOWED_PRINCIPALS": ALLOWED,
            "IAM_AUDIENCES": f"https://elsewhere.example, {AUDIENCE}",
            "IAM_CERTS_URL": keys.url,
        }
        values.update(overrides)
        env(**values)

    apply()
    return apply


def forwarded(claims: dict[str, Any]) -> str:
    """A token as Cloud Run passes it on after its invoker check: the signature removed."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'k1', 'typ': 'JWT'})}.{part(claims)}.SIGNATURE_REMOVED_BY_GOOGLE"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def callers(capsys: pytest.CaptureFixture[str]) -> list[str | None]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [line.get("caller") for line in lines if line.get("message", "").startswith("POST / ")]


@pytest.mark.parametrize("value", [None, "", "Bearer", "Basic abc", "Bearer a", "Bearer a.!!!.c", "Bearer a.bnVsbA.c"])
def test_no_readable_token_is_401_and_never_reaches_the_cec_api(
    client: FlaskClient, iam_env: Callable[..., None], sim: SimulatorControl, value: str | None
) -> None:
    headers = {} if value is None else {"Authorization": value}
    problem = assert_problem(send(client, headers), 401, "unauthenticated")
    assert problem["detail"].startswith("iam: ")
    assert sim.calls() == []


@pytest.mark.parametrize(
    ("forge", "fragment"),
    [
        # alg "none", no signature at all
        (lambda k: k.sign().rsplit(".", 1)[0] + ".", "signature"),
        (lambda k: forwarded({"email": SCHEDULER}).replace("SIGNATURE_REMOVED_BY_GOOGLE", "c2lnbmF0dXJl"), "signature"),
        (lambda k: k.sign(key=k.other_key), "signature"),
        (lambda k: k.sign(aud="https://someone-else.example"), "audience is not this function"),
        (lambda k: k.sign(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "expired"),
        (lambda k: k.sign(iss="https://evil.example"), "not issued by Google"),
    ],
    ids=["unsigned", "made-up-signature", "unpublished-key", "wrong-audience", "expired", "wrong-issuer"],
)
def test_tokens_cloud_run_did_not_check_are_verified_here(
    client: FlaskClient,
    iam_env: Callable[..., None],
    keys: KeySet,
    sim: SimulatorControl,
    forge: Callable[[KeySet], str],
    fragment: str,
) -> None:
    problem = assert_problem(send(client, bearer(forge(keys))), 401, "unauthenticated")
    assert fragment in problem["detail"]
    assert "elsewhere.example" not in problem["detail"]  # never says what would have been right
    assert sim.calls() == []


def test_a_token_signed_by_a_published_key_for_this_function_is_accepted_and_certs_are_cached(
    client: FlaskClient, iam_env: Callable[..., None], keys: KeySet, capsys: pytest.CaptureFixture[str]
) -> None:
    before = keys.fetches
    capsys.readouterr()
    assert send(client, bearer(keys.sign())).status_code == 200
    body = json.dumps({"dnids": "2"}).encode()
    assert send(client, bearer(keys.sign(email=OPERATOR, sub="9")), body).status_code == 200
    assert callers(capsys) == [f"iam:{SCHEDULER}", f"iam:{OPERATOR}"]
    assert keys.fetches == before + 1


def test_a_verified_token_outside_the_allow_list_is_403(
    client: FlaskClient, iam_env: Callable[..., None], keys: KeySet, sim: SimulatorControl
) -> None:
    problem = assert_problem(
        send(client, bearer(keys.sign(email="intruder@p.iam.gserviceaccount.com"))), 403, "forbidden"
    )
    assert "intruder@p.iam.gserviceaccount.com is not in" in problem["detail"]
    problem = assert_problem(send(client, bearer(keys.sign(email=OPERATOR, email_verified=False))), 403, "forbidden")
    assert "no verified email" in problem["detail"]
    assert sim.calls() == []


def test_forwarded_tokens_are_read_and_the_allow_list_decides(
    client: FlaskClient, iam_env: Callable[..., None], sim: SimulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    allowed = bearer(forwarded({"email": SCHEDULER, "sub": "1"}))
    assert send(client, {**allowed, "Idempotency-Key": "shared"}).status_code == 200
    operator = bearer(forwarded({"email": OPERATOR, "sub": "2"}))
    other = send(client, {**operator, "Idempotency-Key": "shared"})  # its own scope: runs, converges
    assert other.status_code == 200 and "Idempotent-Replayed" not in other.headers
    assert callers(capsys) == [f"iam:{SCHEDULER}", f"iam:{OPERATOR}"]
    deletes = len(sim.calls("delete"))
    for claims in ({"email": "intruder@elsewhere.example"}, {"sub": "107"}):
        assert_problem(send(client, bearer(forwarded(claims))), 403, "forbidden")
    assert len(sim.calls("delete")) == deletes


def test_x_serverless_authorization_is_the_only_identity_when_present(
    client: FlaskClient, iam_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    # Cloud Run checks X-Serverless-Authorization and passes Authorization on untouched.
    headers = {
        "X-Serverless-Authorization": "Bearer " + forwarded({"email": "intruder@elsewhere.example"}),
        "Authorization": "Bearer " + forwarded({"email": SCHEDULER}),
    }
    assert_problem(send(client, headers), 403, "forbidden")
    capsys.readouterr()
    headers = {
        "X-Serverless-Authorization": "Bearer " + forwarded({"email": SCHEDULER}),
        "Authorization": "Bearer app-token-for-someone-else",
    }
    assert send(client, headers).status_code == 200
    assert callers(capsys) == [f"iam:{SCHEDULER}"]


def test_after_an_unchecked_request_the_instance_refuses_forwarded_tokens(
    client: FlaskClient, iam_env: Callable[..., None], keys: KeySet, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request without a token reached the function: Cloud Run is not checking, so the
    marker proves nothing any more; tokens verified here still pass."""
    capsys.readouterr()
    # What is not a JWT (an OAuth access token, say) proves nothing either way.
    assert_problem(send(client, bearer("ya29.an-opaque-access-token")), 401, "unauthenticated")
    assert send(client, bearer(forwarded({"email": SCHEDULER}))).status_code == 200
    assert_problem(send(client, {}), 401, "unauthenticated")
    problem = assert_problem(send(client, bearer(forwarded({"email": SCHEDULER}))), 503, "not_configured")
    assert "without Cloud Run's invoker check" in problem["detail"]
    assert send(client, bearer(keys.sign()), BODY_2).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    alerts = [line for line in lines if "without Cloud Run's invoker check" in line["message"]]
    assert [line["severity"] for line in alerts] == ["CRITICAL"]  # once per instance


def test_certificates_that_cannot_be_fetched_refuse_the_token_and_are_not_fetched_per_request(
    client: FlaskClient, iam_env: Callable[..., None], keys: KeySet, sim: SimulatorControl
) -> None:
    keys.status = 503
    try:
        before = keys.fetches
        for _ in range(3):
            problem = assert_problem(send(client, bearer(keys.sign())), 401, "unauthenticated")
            assert "certificates could not be fetched" in problem["detail"]
        assert keys.fetches == before + 1
    finally:
        keys.status = 200
    assert sim.calls() == []


def test_a_signed_token_without_iam_audiences_is_refused(
    client: FlaskClient, iam_env: Callable[..., None], keys: KeySet
) -> None:
    iam_env(IAM_AUDIENCES=None)
    problem = assert_problem(send(client, bearer(keys.sign())), 401, "unauthenticated")
    assert "IAM_AUDIENCES is not set" in problem["detail"]


@pytest.mark.parametrize(
    ("allowed", "fragment"),
    [
        (None, "IAM_ALLOWED_PRINCIPALS is not set"),
        (" , ", "IAM_ALLOWED_PRINCIPALS is not set"),
        (f"serviceAccount:{SCHEDULER}, group:ops@example.com", "entry 2 is not"),
        ("allUsers", "entry 1 is not"),
        ("domain:example.com", "entry 1 is not"),
    ],
)
def test_iam_without_a_usable_allow_list_refuses_everyone_with_503(
    client: FlaskClient,
    iam_env: Callable[..., None],
    sim: SimulatorControl,
    allowed: str | None,
    fragment: str,
) -> None:
    iam_env(IAM_ALLOWED_PRINCIPALS=allowed)
    problem = assert_problem(send(client, bearer(forwarded({"email": SCHEDULER}))), 503, "not_configured")
    assert fragment in problem["detail"]
    assert "ops@example.com" not in problem["detail"]
    assert sim.calls() == []


def test_another_method_may_still_accept_when_iam_refuses(
    client: FlaskClient, iam_env: Callable[..., None], keys: KeySet
) -> None:
    iam_env(CALLER_AUTH="iam,api_key", API_KEYS="ops=a-long-enough-api-key")
    assert send(client, {"X-API-Key": "a-long-enough-api-key"}).status_code == 200
    problem = assert_problem(send(client, bearer(keys.sign(email="intruder@x.example"))), 403, "forbidden")
    assert "intruder@x.example" in problem["detail"]
    problem = assert_problem(send(client, {}, BODY), 401, "unauthenticated")
    assert "iam: no ID token" in problem["detail"] and "api_key: no X-API-Key" in problem["detail"]


def test_the_real_server_verifies_signed_tokens_and_refuses_the_rest(
    sim: SimulatorControl, secrets: FakeSecretManagerControl, keys: KeySet, tmp_path: Path
) -> None:
    env = server_env(
        CALLER_AUTH="iam",
        IAM_ALLOWED_PRINCIPALS=ALLOWED,
        IAM_AUDIENCES=AUDIENCE,
        IAM_CERTS_URL=keys.url,
        CEC_BASE_URL=sim.base_url,
        CEC_CREDENTIALS_SECRET=CREDENTIALS_SECRET + "/versions/latest",
        SECRET_MANAGER_ENDPOINT=secrets.base_url,
        GOOGLE_CLOUD_PROJECT="test-project",
    )
    with FunctionServer(env, tmp_path / "server.log") as server:

        def post(headers: dict[str, str]) -> requests.Response:
            return requests.post(server.url, json={"dnids": "1"}, headers=headers, timeout=30)

        assert post(bearer(keys.sign(aud="https://someone-else.example"))).status_code == 401
        assert post(bearer(keys.sign(email="intruder@x.example"))).status_code == 403
        answer = post(bearer(keys.sign()))
        assert answer.status_code == 200 and answer.json()["status"] == "deleted"
        assert post({}).status_code == 401
        refused = post(bearer(forwarded({"email": SCHEDULER})))
        assert refused.status_code == 503 and refused.headers["Content-Type"] == "application/problem+json"
    assert len(sim.calls("delete")) == 1


# A fresh interpreter, as a cold instance is: a request with Cloud Run's marker token
# never imports google-auth's verifier; a token still signed does (the control case).
_COLD_CHILD = """
import json, sys
import functions_framework
app = functions_framework.create_app(target="delete_called_route", source="main.py")
response = app.test_client().post("/", data=b'{"dnids": "1"}', content_type="application/json",
                                  headers={"Authorization": "Bearer " + sys.argv[1]})
assert response.status_code == 200, response.get_data(as_text=True)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("google.oauth2", "google.auth")))))
"""


def test_only_a_token_cloud_run_did_not_check_imports_google_auth(sim: SimulatorControl, keys: KeySet) -> None:
    environment = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    environment |= {
        "CALLER_AUTH": "iam",
        "IAM_ALLOWED_PRINCIPALS": ALLOWED,
        "IAM_AUDIENCES": AUDIENCE,
        "IAM_CERTS_URL": keys.url,
        "CEC_BASE_URL": sim.base_url,
        "CEC_APP_KEY": DEFAULT_APP_KEY,
        "CEC_APP_SECRET": DEFAULT_APP_SECRET,
        "LOG_LEVEL": "WARNING",
    }

    def loaded(token: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", _COLD_CHILD, token],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        modules: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
        return modules

    assert loaded(forwarded({"email": SCHEDULER})) == []
    assert "google.oauth2.id_token" in loaded(keys.sign())
