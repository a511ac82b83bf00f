"""Runs one step with a client that openapi-generator generated (in .venv-contract, which
has what generated clients import) and prints what happened as JSON.

    drive_client.py PACKAGE_DIR PACKAGE URL API_KEY STEP

Everything goes through the generated code: its models build (from_dict) and serialise
the body, its API class sends it, its exceptions carry the error answers.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from typing import Any

BODIES: dict[str, dict[str, Any]] = {
    "dry_run": {"routes": [{"accessCode": "9911411"}], "dryRun": True},
    "routes": {"routes": [{"accessCode": "9911411"}]},
    "dnids": {"dnids": "4"},
    "dnid_list": {"dnids": [10, 11]},  # 3.0 only: Swagger 2.0 offers the string form
    "partial": {"dnids": "5,6"},
    "failed": {"dnids": "7"},
    # The generated models check patterns, not meaning: a 19-digit record id passes
    # them as a dnid, and the function answers 400 with a pointer to the field.
    "invalid": {"dnids": "1127983948544239618"},
}


def _answer(status: int, data: Any, body: str | None) -> dict[str, Any]:
    model = getattr(data, "actual_instance", data)
    return {
        "status": status,
        "model": type(model).__name__ if model is not None else None,
        "data": data.to_dict() if hasattr(data, "to_dict") else None,
        "body": json.loads(body) if body else None,
    }


def main() -> None:
    package_dir, package, url, api_key, step = sys.argv[1:6]
    sys.path.insert(0, package_dir)
    client = importlib.import_module(package)
    models = importlib.import_module(package + ".models")
    config = client.Configuration(host=url, api_key={"apiKey": api_key})
    api = client.RoutesApi(client.ApiClient(config))

    def send(body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        request = models.DeleteRequest.from_dict(body)
        sent = json.loads(request.to_json())
        try:
            response = api.delete_called_routes_with_http_info(delete_request=request, idempotency_key=key)
            result = _answer(response.status_code, response.data, response.raw_data.decode())
        except client.ApiException as exc:
            result = _answer(exc.status, exc.data, exc.body)
        return {"sent": sent, **result}

    if step == "reused":
        key = str(uuid.uuid4())  # fresh per run: a key is never a constant
        out = {"first": send({"dnids": "8"}, key), "second": send({"dnids": "9"}, key)}
    else:
        out = send(BODIES[step])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
