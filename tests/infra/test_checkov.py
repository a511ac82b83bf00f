"""checkov on infra/terraform: zero failed checks, and every skip justified inline."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from ._infra import ROOT, TF_DIR, tool

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


@pytest.mark.external_tools
def test_checkov_finds_no_failed_check() -> None:
    checkov = tool("CHECKOV_BIN", "checkov", "pip install -r requirements-infra.txt in its own venv")
    result = subprocess.run(
        # --skip-download: no network here, and the policies shipped with the pinned
        # version are the ones this suite was written against.
        [checkov, "-d", str(TF_DIR), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 10, summary
    for report in reports:
        for check in report["results"]["skipped_checks"]:
            reason = check["check_result"].get("suppress_comment", "")
            assert len(reason) >= 40, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def test_every_inline_skip_names_a_check_and_says_why() -> None:
    skips = []
    for path in sorted(TF_DIR.rglob("*.tf")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                skips.append((path.name, match.group(1), (match.group(2) or "").strip()))
    assert skips, "expected the justified skips (e.g. CKV_GCP_124 for ingress)"
    for name, check, reason in skips:
        assert re.fullmatch(r"CKV2?_GCP_\d+", check), (name, check)
        assert len(reason) >= 40, f"{name}: skip of {check} needs a reason"
