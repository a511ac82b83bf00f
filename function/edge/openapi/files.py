"""The committed contract files (docs/api/, connectors/power-automate/), from the models.

scripts/write_api_docs.py writes them; tests/test_openapi_sync.py fails when one differs
from what the models generate now.
"""

from __future__ import annotations

import json
from typing import Any

from function.edge.openapi.connector import api_definition, api_properties
from function.edge.openapi.document import document

# The committed documents name functions-framework's local default address as their
# server; a deployed function's own /openapi.json names its URL (PUBLIC_URL or Host).
LOCAL_SERVER = "http://127.0.0.1:8080"


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def contract_files() -> dict[str, bytes]:
    """Path (relative to the repository) -> content."""
    return {
        "docs/api/openapi.json": _dump(document("3.1", LOCAL_SERVER)),
        "docs/api/openapi-3.0.json": _dump(document("3.0", LOCAL_SERVER)),
        "docs/api/swagger.json": _dump(document("2.0", LOCAL_SERVER)),
        "connectors/power-automate/apiDefinition.swagger.json": _dump(api_definition()),
        "connectors/power-automate/apiProperties.json": _dump(api_properties()),
    }
