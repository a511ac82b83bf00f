"""What requests would read from the environment on every call, the transport reads once
(function/cec/transport.py): HTTP(S)_PROXY and NO_PROXY per origin, and
REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE. These tests hold it to requests' own behaviour,
over real HTTP: a forward proxy and a TLS simulator on loopback."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cec_sim import SimulatorControl
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, CecHandler, SimState
from cec_sim.httpbase import Server

# The AK/SK from the environment: the google client library would honour the proxy
# variables too (gRPC reads http_proxy), which is not what these tests are about.
_CREDENTIALS = {"CEC_CREDENTIALS_SECRET": None, "CEC_APP_KEY": DEFAULT_APP_KEY, "CEC_APP_SECRET": DEFAULT_APP_SECRET}
_PROXY_VARIABLES = [v for n in ("http", "https", "all", "no") for v in (f"{n}_proxy", f"{n.upper()}_PROXY")]


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: records each absolute-form target, forwards it."""

    seen: list[str]

    def do_POST(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=5)
        try:
            upstream.request("POST", target.path + (f"?{target.query}" if target.query else ""), body, headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    httpd.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", httpd.seen  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_calls_go_through_the_proxy_the_environment_names(
    post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl,
    proxy: tuple[str, list[str]], no_proxy_variables: None, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    proxy_url, seen = proxy
    env(HTTP_PROXY=proxy_url, CEC_LOOKUP_BEFORE_DELETE="false", **_CREDENTIALS)
    for dnid in ("1", "2"):  # the second call uses what the first one looked up
        response = post({"dnids": dnid})
        assert response.status_code == 200, response.get_data(as_text=True)
    names = [urlsplit(url).path.rsplit("/", 1)[-1] for url in seen]
    assert names == ["tokenByAkSk", "deleteCalledRoute", "deleteCalledRoute"]
    assert all(url.startswith(sim.base_url) for url in seen)
    monkeypatch.delenv("HTTP_PROXY")  # the test's own control calls go direct
    assert len(sim.calls("delete")) == 2


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
def test_no_proxy_keeps_its_hosts_off_the_proxy(
    post: Callable[..., Any], env: Callable[..., None], sim: SimulatorControl,
    proxy: tuple[str, list[str]], no_proxy_variables: None, name: str,
) -> None:  # fmt: skip
    proxy_url, seen = proxy
    env(HTTP_PROXY=proxy_url, **{name: "example.com,127.0.0.1"}, **_CREDENTIALS)
    response = post({"dnids": "1"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert seen == []
    assert len(sim.calls("delete")) == 1


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The simulator over TLS with a self-signed certificate for 127.0.0.1; its PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cec-sim test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = Server(CecHandler)
    server.httpd.state = SimState()  # type: ignore[attr-defined]
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.start()
    yield f"https://127.0.0.1:{server.httpd.server_port}", cert_file
    server.stop()


# A dnid each: the TLS simulator is shared by the module's tests.
@pytest.mark.parametrize(("name", "dnid"), [("REQUESTS_CA_BUNDLE", "1"), ("CURL_CA_BUNDLE", "2")])
def test_a_ca_bundle_from_the_environment_is_trusted(
    post: Callable[..., Any], env: Callable[..., None], tls_sim: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch, no_proxy_variables: None, name: str, dnid: str,
) -> None:  # fmt: skip
    url, cert_file = tls_sim
    for other in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(other, raising=False)
    env(CEC_BASE_URL=url, **{name: str(cert_file)}, **_CREDENTIALS)
    response = post({"dnids": dnid})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.get_json()["deleted"]) == 1


def test_without_the_bundle_the_certificate_is_refused(
    post: Callable[..., Any], env: Callable[..., None], tls_sim: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch, no_proxy_variables: None,
) -> None:  # fmt: skip
    url, _ = tls_sim
    for other in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(other, raising=False)
    env(CEC_BASE_URL=url, CEC_MAX_RETRIES="0", **_CREDENTIALS)
    response = post({"dnids": "3"})
    assert response.status_code == 503, response.get_data(as_text=True)
    problem = response.get_json()
    assert problem["code"] == "upstream_unavailable"
    assert problem["retryable"] is True
