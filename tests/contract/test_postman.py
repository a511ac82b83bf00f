"""A Postman collection generated from the 3.0 document (openapi-to-postmanv2, Postman's
own converter): its example requests are accepted by the function, and no request
carries a fixed idempotency key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import requests

from cec_sim import SimulatorControl
from cec_sim.function_server import FunctionServer
from tests.conftest import API_KEY, ROOT
from tests.contract import tools

# What docs/INTEGRATIONS.md tells Postman users to pick in the import settings: example
# bodies rather than ones faked from the schema, and optional parameters (the
# idempotency header) disabled until the user gives a value of their own.
OPTIONS = "parametersResolution=Example,enableOptionalParameters=false"


def _requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items:
        if "item" in item:
            found.extend(_requests(item["item"]))
        else:
            found.append(item["request"])
            found.extend(r["originalRequest"] for r in item.get("response", []) if "originalRequest" in r)
    return found


def _convert(tmp_path: Path) -> dict[str, Any]:
    converter = tools.require(tools.OPENAPI2POSTMAN)
    out = tmp_path / "collection.json"
    source = ROOT / "docs" / "api" / "openapi-3.0.json"
    result = subprocess.run(
        [str(converter), "-s", str(source), "-o", str(out), "-O", OPTIONS],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    collection: dict[str, Any] = json.loads(out.read_text())
    return collection


def test_collection_requests_are_accepted(tmp_path: Path, server: FunctionServer, sim: SimulatorControl) -> None:
    collection = _convert(tmp_path)
    assert {"key": "baseUrl", "value": "http://127.0.0.1:8080"} in collection["variable"]
    posts = [r for r in _requests(collection["item"]) if r["method"] == "POST"]
    assert posts and posts[0]["auth"]["type"] == "apikey"  # X-API-Key from {{apiKey}}
    for request in posts:
        headers = {h["key"]: h["value"] for h in request.get("header", []) if not h.get("disabled")}
        assert "Idempotency-Key" not in headers, headers  # no fixed key is ever sent
        body = json.loads(request["body"]["raw"])
        headers["X-API-Key"] = API_KEY
        path = "/" + "/".join(p for p in request["url"].get("path", []) if p)
        sim.reset()
        answer = requests.post(server.url + path, data=json.dumps(body), headers=headers, timeout=30)
        if path == "/apply":
            # Its example token is a placeholder (a real one comes from a /preview and
            # expires): refused as a problem, and nothing is deleted.
            assert answer.headers["Content-Type"] == "application/problem+json", answer.text
            assert sim.deleted() == []
            continue
        assert answer.status_code == 200, (path, body, answer.text)
        assert answer.json()["status"] in ({"planned"} if path == "/preview" else {"deleted", "planned"})
    assert {"/", "/preview", "/apply"} <= {"/" + "/".join(p for p in r["url"].get("path", []) if p) for r in posts}
    for request in _requests(collection["item"]):
        url = request["url"]
        assert url["host"] == ["{{baseUrl}}"]
