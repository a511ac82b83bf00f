"""The Power Automate / Power Apps custom connector, derived from the Swagger 2.0 document.

Custom connectors import OpenAPI 2.0 only; paconn reads apiDefinition.swagger.json and
apiProperties.json (connectors/power-automate/). What is added to the 2.0 document:
Microsoft's x-ms-summary (the label a flow author sees) and x-ms-visibility (important
fields shown, the rest under "advanced"), and only the operations a flow calls. Not used
by the deployed function: scripts/write_api_docs.py writes the files, a test keeps them
in sync.
"""

from __future__ import annotations

import copy
from typing import Any

from function.edge.openapi.document import document

# The host a connector author replaces with the function's (paconn and the portal both
# require a host; this one is reserved and never resolves, RFC 2606).
PLACEHOLDER_HOST = "your-function-host.example"

_SUMMARIES = {
    "dnids": ("Dnids", "important"),
    "ids": ("Record ids", "advanced"),
    "routes": ("Hotlines", "advanced"),
    "dryRun": ("Dry run (delete nothing)", "important"),
    "planToken": ("Plan token (from an approved dry run)", "advanced"),
    "planTtlSeconds": ("Plan token lifetime (seconds)", "advanced"),
    "accessCode": ("Access code", "important"),
    "extCode": ("Extension code", "advanced"),
    "status": ("Status", None),
    "code": ("Problem code", None),
    "retryable": ("Retryable", None),
    "requestId": ("Request id", None),
    "deleted": ("Deleted route names", None),
    "failed": ("Route names not deleted", None),
    "results": ("Per-route results", None),
    "outcome": ("Outcome", None),
    "detail": ("Detail", None),
}


def _label(schema: dict[str, Any]) -> None:
    for name, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            continue  # 2.0 ignores siblings of $ref; the definition is labelled itself
        summary, visibility = _SUMMARIES.get(name, (name[:1].upper() + name[1:], None))
        sub["x-ms-summary"] = summary
        if visibility:
            sub["x-ms-visibility"] = visibility
        if "items" in sub:
            _label(sub["items"])
        _label(sub)


# The actions a flow author sees: preview and apply first (an approval goes between
# them), the one-step deletion under "advanced".
_ACTIONS = {
    "/preview": ("Preview a deletion (plan and plan token)", "important"),
    "/apply": ("Apply an approved plan", "important"),
    "/": ("Delete called routes (one step, or a dry run)", "advanced"),
}
# The one field whose type differs between the shapes a status can answer with (a
# result's status is a string, a problem's an integer): a flow reads it as a string.
_MIXED_STATUS = {
    "type": "string",
    "description": "failed (a result: see Per-route results), or 422 (a problem: see Problem code).",
    "x-ms-summary": "Status",
}


def api_definition() -> dict[str, Any]:
    """apiDefinition.swagger.json: the deletion operations, for a flow's action list."""
    doc = copy.deepcopy(document("2.0", f"https://{PLACEHOLDER_HOST}"))
    for definition in doc["definitions"].values():
        _label(definition)
    doc["definitions"]["ApplyRequest"]["properties"]["planToken"]["x-ms-visibility"] = "important"
    doc["definitions"]["PreviewRequest"]["properties"]["dryRun"]["x-ms-visibility"] = "internal"
    paths: dict[str, Any] = {}
    for path, (summary, visibility) in _ACTIONS.items():
        post = doc["paths"][path]["post"]
        post["summary"] = summary
        post["x-ms-visibility"] = visibility
        for parameter in post["parameters"]:
            if parameter["in"] == "header":
                parameter["x-ms-summary"] = "Idempotency key (optional)"
                parameter["x-ms-visibility"] = "advanced"
            else:
                parameter["x-ms-summary"] = "Request"
                parameter.pop("x-examples", None)  # examples live in the 2.0 document
        for response in post["responses"].values():
            response.pop("examples", None)
            schema = response.get("schema", {})
            if "properties" in schema:
                _label(schema)
                if "type" not in schema["properties"].get("status", {"type": None}):
                    schema["properties"]["status"] = dict(_MIXED_STATUS)
        post["security"] = [{"api_key": []}]
        paths[path] = {"post": post}
    health = doc["paths"]["/healthz"]
    health["get"]["x-ms-visibility"] = "internal"
    health["get"]["security"] = []
    doc["paths"] = {**paths, "/healthz": health}
    doc["securityDefinitions"] = {"api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    doc["security"] = [{"api_key": []}]
    return doc


def api_properties() -> dict[str, Any]:
    """apiProperties.json: the connection asks for the API key, stored as a secure string."""
    return {
        "properties": {
            "connectionParameters": {
                "api_key": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "API key",
                        "description": "A key of the function's api-keys secret, sent as X-API-Key",
                        "tooltip": "Ask the function's owner for a named key of its own for this connection",
                        "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
                    },
                }
            },
            "iconBrandColor": "#007ee5",
            "capabilities": [],
            "publisher": "cec-delete-called-route",
            "stackOwner": "cec-delete-called-route",
        }
    }
