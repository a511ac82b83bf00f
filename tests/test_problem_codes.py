"""One list of problem codes: every code a FunctionError subclass anywhere in function/
can carry has a runbook entry in function/errors.py (and no entry lacks a code), and
docs/RUNBOOK.md is what scripts/write_runbook.py makes of them."""

from __future__ import annotations

import gc
import re
from pathlib import Path

from function.errors import RUNBOOK, FunctionError
from scripts import write_runbook

ROOT = Path(__file__).resolve().parents[1]
# A class attribute line that sets a code: `code = "x"` or `status, code, title = 400, "x", ...`.
CODE_LINE = re.compile(
    r'^\s+(?:status, )?code(?:: ClassVar\[str\])?(?:, title)?(?:, retryable)? = (?:\d+, )?"(\w+)"', re.MULTILINE
)


def test_every_code_the_function_can_raise_has_a_runbook_entry_and_no_entry_is_stale() -> None:
    codes = {p.code for p in write_runbook.problems()}
    missing = codes - set(RUNBOOK)
    assert not missing, f"codes without a runbook entry in function/errors.py: {sorted(missing)}"
    stale = set(RUNBOOK) - codes
    assert not stale, f"runbook entries no FunctionError carries: {sorted(stale)}"
    assert len(codes) >= 27


def test_the_source_sets_no_code_the_classes_do_not_carry() -> None:
    """Read from the text too, so that a module the walk could not import is still seen."""
    written = {m for p in (ROOT / "function").rglob("*.py") for m in CODE_LINE.findall(p.read_text(encoding="utf-8"))}
    assert "upstream_auth_failed" in written and "plan_expired" in written and "in_progress" in written
    assert written == {p.code for p in write_runbook.problems()}


def test_every_entry_says_a_cause_and_a_fix() -> None:
    for code, entry in RUNBOOK.items():
        assert len(entry.cause) > 20 or code in {"not_found", "method_not_allowed"}, code
        assert entry.cause.strip() and entry.fix.strip(), code


def test_the_runbook_page_is_generated_from_the_list() -> None:
    page = (ROOT / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
    assert page == write_runbook.render(), "docs/RUNBOOK.md is stale: run scripts/write_runbook.py"
    rows = re.findall(r"^\| (\d{3}) \| `(\w+)` \| (yes|no) \|", page, flags=re.MULTILINE)
    by_code = {p.code: p for p in write_runbook.problems()}
    assert {code for _, code, _ in rows} == set(by_code)
    for status, code, retry in rows:
        assert (int(status), retry == "yes") == (by_code[code].status, by_code[code].retryable), code


def test_a_new_code_without_an_entry_is_found() -> None:
    class Teapot(FunctionError):
        status, code, title = 418, "teapot", "I am a teapot"

    try:
        assert "teapot" in {p.code for p in write_runbook.problems()}
        assert "teapot" not in RUNBOOK
    finally:
        del Teapot
        gc.collect()
    assert "teapot" not in {p.code for p in write_runbook.problems()}
