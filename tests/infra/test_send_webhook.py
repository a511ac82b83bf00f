"""scripts/send_webhook.py signs requests that the function's own verifier accepts."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import ClassVar

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from function.settings import load_settings

from ._infra import ROOT

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("send_webhook", ROOT / "scripts" / "send_webhook.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


send_webhook = _load()


def test_signature_equals_the_reference_implementation() -> None:
    body = b'{"dnids":"4001,4002"}'
    timestamp = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    expected = Webhook(SECRET).sign("msg_1", timestamp, body.decode())
    assert send_webhook.sign(SECRET, "msg_1", int(timestamp.timestamp()), body) == expected


def test_signed_headers_verify_and_a_changed_body_does_not() -> None:
    body = send_webhook.body_for("4001, 4002", as_list=True)
    assert json.loads(body) == {"dnids": [4001, 4002]}
    headers = send_webhook.signed_headers(SECRET, body)
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(SECRET).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"4002", b"4003"), headers)


def test_generated_secret_is_accepted_by_the_function_settings() -> None:
    secret = send_webhook.generate_secret()
    assert secret != send_webhook.generate_secret()
    settings = load_settings(
        {
            "CALLER_AUTH": "webhook",
            "WEBHOOK_SECRET": secret,
            "CEC_BASE_URL": "https://cec.example",
            "CEC_CREDENTIALS_SECRET": "projects/p/secrets/s/versions/latest",
        }
    )
    assert settings.missing() == []


class _Recorder(BaseHTTPRequestHandler):
    status = 200
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        if type(self).status == 503:
            self.send_header("Retry-After", "7")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.seen = []
    httpd = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_sends_a_request_the_receiver_can_verify(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    _Recorder.status = 200
    assert send_webhook.main([server, "--dnids", "4001,4002", "--timeout", "5"]) == 0
    ((headers, body),) = _Recorder.seen
    assert json.loads(body) == {"dnids": "4001,4002"}
    lowered = {k.lower(): v for k, v in headers.items()}
    Webhook(SECRET).verify(body, lowered)
    assert lowered["content-type"] == "application/json"
    assert "HTTP 200" in capsys.readouterr().err


def test_non_2xx_exits_1_and_shows_retry_after(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    _Recorder.status = 503
    assert send_webhook.main([server, "--dnids", "1", "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 503" in err and "Retry-After: 7" in err


def test_print_only_and_bad_secret(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    assert send_webhook.main(["--dnids", "7", "--secret", SECRET, "--id", "msg_fixed", "--print-only"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "webhook-id: msg_fixed" in lines and lines[-1] == '{"dnids":"7"}'
    with pytest.raises(SystemExit) as exc:
        send_webhook.main(["http://127.0.0.1:9/", "--dnids", "7"])
    assert exc.value.code == 2
