"""The Power Automate connector against Microsoft's own schemas for custom connectors.

The schema files in tests/contract/power_platform_schemas/ are byte-for-byte copies of
microsoft/PowerPlatformConnectors (MIT; see SOURCE.md there for the commit): the
definition's (a Swagger 2.0 schema with Microsoft's x-ms-* extensions) and paconn's
apiProperties schema. They are JSON with comments, as published.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT

SCHEMAS = ROOT / "tests" / "contract" / "power_platform_schemas"
CONNECTOR = ROOT / "connectors" / "power-automate"
# sha256 of each copy as fetched (SOURCE.md), so that an edit to a copy shows.
FETCHED = {
    "apiDefinition.swagger.schema.json": "d678672463a117b6038d600ff5f67bd0163980b1d3556111d4706f7994aae0ed",
    "paconn-apiProperties.schema.json": "a5fe436fc9c3a07697e8a450a8e3851436bd5a409afa14e13f0963fb6e949475",
}
_JSONC_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/|.', re.DOTALL)


def load_jsonc(text: str) -> Any:
    """JSON with // and /* */ comments outside strings (Microsoft's files have both)."""
    tokens = (m.group(0) for m in _JSONC_TOKEN.finditer(text))
    return json.loads("".join(t for t in tokens if t[:2] not in ("//", "/*")))


def validator(name: str) -> jsonschema.protocols.Validator:
    raw = (SCHEMAS / name).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == FETCHED[name], f"{name} differs from the fetched copy"
    schema = load_jsonc(raw.decode("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


PAIRS = [
    ("apiDefinition.swagger.schema.json", "apiDefinition.swagger.json"),
    ("paconn-apiProperties.schema.json", "apiProperties.json"),
]


@pytest.mark.parametrize(("schema", "document"), PAIRS)
def test_the_connector_validates_against_microsofts_schemas(schema: str, document: str) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator(schema).iter_errors(json.loads((CONNECTOR / document).read_text()))
    ]
    assert errors == []


def test_the_schemas_refuse_what_power_platform_refuses() -> None:
    """The check can fail: a visibility Microsoft does not define, and an unknown
    connection parameter type, are each refused."""
    definition = json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text())
    broken = copy.deepcopy(definition)
    broken["paths"]["/apply"]["post"]["x-ms-visibility"] = "prominent"
    assert list(validator(PAIRS[0][0]).iter_errors(broken))
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())
    properties["properties"]["connectionParameters"]["api_key"]["type"] = "password"
    assert list(validator(PAIRS[1][0]).iter_errors(properties))


def test_the_jsonc_reader_keeps_slashes_inside_strings() -> None:
    assert load_jsonc('{"a": "http://x//y", // note\n "b": /* c */ 1}') == {"a": "http://x//y", "b": 1}
