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


def api_definition() -> dict[str, Any]:
    """apiDefinition.swagger.json: the delete operation, for a flow's action list."""
    doc = copy.deepcopy(document("2.0", f"https://{PLACEHOLDER_HOST}"))
    post = doc["paths"]["/"]["post"]
    post["summary"] = "Delete called routes"
    post["x-ms-visibility"] = "important"
    for parameter in post["parameters"]:
        if parameter["in"] == "header":
            parameter["x-ms-summary"] = "Idempotency key (optional)"
            parameter["x-ms-visibility"] = "advanced"
        else:
            parameter["x-ms-summary"] = "Request"
            parameter.pop("x-examples", None)  # examples live in the 2.0 document
    health = doc["paths"]["/healthz"]
    health["get"]["x-ms-visibility"] = "internal"
    doc["paths"] = {"/": doc["paths"]["/"], "/healthz": health}
    for definition in doc["definitions"].values():
        _label(definition)
    for response in post["responses"].values():
        response.pop("examples", None)
        if "schema" in response and "properties" in response["schema"]:
            _label(response["schema"])
    doc["securityDefinitions"] = {"api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    post["security"] = [{"api_key": []}]
    doc["security"] = [{"api_key": []}]
    health["get"]["security"] = []
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
                        "description": "One of the function's API_KEYS, sent as X-API-Key",
                        "tooltip": "Ask the function's owner for a key of its own for this connection",
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
