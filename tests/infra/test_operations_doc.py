"""docs/OPERATIONS.md's Cloud NAT recipe, command by command, parsed by the real gcloud
(no account: a well-formed command stops at the missing account, a bad flag fails the
parser; see test_gcloud_parse.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ._infra import ROOT, tool
from .test_gcloud_parse import NO_ACCOUNT, PARSE_ERROR, parse

pytestmark = pytest.mark.external_tools

DOC = ROOT / "docs" / "OPERATIONS.md"


def recipe() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Egress", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    values = {"PROJECT": "my-proj-123", "REGION": "europe-west1"}
    commands = []
    for line in "".join(blocks).splitlines():
        if line.startswith("gcloud "):
            commands.append(
                [
                    values.get(w, re.sub(r"=(PROJECT|REGION)$", lambda m: "=" + values[m.group(1)], w))
                    for w in shlex.split(line)
                ]
            )
    return commands


def test_the_cloud_nat_recipe_parses(tmp_path: Path) -> None:
    gcloud = tool("GCLOUD_BIN", "gcloud", "install the Google Cloud CLI")
    commands = recipe()
    verbs = [" ".join(c[1:4]) for c in commands]
    assert "compute routers nats" in verbs and "compute networks vpc-access" in verbs, verbs
    refused = []
    for command in commands:
        _, code, stderr = parse(gcloud, tmp_path, command)
        if code != 1 or NO_ACCOUNT not in stderr or PARSE_ERROR.search(stderr):
            refused.append(f"{shlex.join(command)}\n  exit {code}: {stderr.strip()[:300]}")
    assert not refused, "\n".join(refused)
