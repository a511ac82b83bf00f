"""scripts/check_advisories.py: the offline dependency-vulnerability check can fail.

Edge cases of the OSV version logic run against small advisory databases written into
tmp_path; the known-vulnerable case runs against the real snapshot in
../shared/data/pypa-advisory-db (a skip when it is absent locally, a failure under CI=true,
where a check that silently checks nothing is exactly what must not pass).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_advisories.py"


def _load_checker() -> ModuleType:
    # scripts/ is not a package: load the file as a module, as the CLI runs it, with
    # scripts/ on sys.path as a script run has it, so that ``import advisories`` works.
    if str(SCRIPT.parent) not in sys.path:
        sys.path.append(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("check_advisories", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_advisories"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


checker = _load_checker()


@pytest.fixture
def real_db() -> Path:
    db = Path(os.environ.get("ADVISORY_DB") or checker.default_db_path())
    if not (db / "vulns").is_dir():
        message = f"advisory snapshot not found at {db} (set ADVISORY_DB)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return db


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = checker.run(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def requirements(tmp_path: Path, *lines: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def advisory(db: Path, package: str, ident: str, body: str) -> None:
    folder = db / "vulns" / package
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ident}.yaml").write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")


def ecosystem(name: str, ident: str, events: str, *, extra: str = "", aliases: str = "[]", versions: str = "") -> str:
    """An OSV advisory for one PyPI package with one ECOSYSTEM range (events: YAML lines)."""
    events_yaml = textwrap.indent(textwrap.dedent(events).strip(), " " * 12)
    return f"""
        id: {ident}
        details: test advisory
        aliases: {aliases}
        {extra}
        affected:
        - package:
            name: {name}
            ecosystem: PyPI
          ranges:
          - type: ECOSYSTEM
            events:
{events_yaml}
          versions:{versions}
        """


@pytest.fixture
def tiny_db(tmp_path: Path) -> Path:
    db = tmp_path / "db"
    db.mkdir()
    (db / "SNAPSHOT.txt").write_text("Test snapshot, dated 2001-02-03.\n", encoding="utf-8")
    return db


# --- against the real snapshot ---------------------------------------------------------


def test_known_vulnerable_pin_is_reported_with_its_advisory(
    real_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # vulns/requests/PYSEC-2023-74.yaml: Proxy-Authorization leak, introduced 2.3.0, fixed 2.31.0
    # (CVE-2023-32681, GHSA-j8r2-6x86-q33q). Its versions list is empty: the range decides.
    reqs = requirements(tmp_path, "requests==2.30.0")
    code, out, _ = run(["--db", str(real_db), "--requirements", str(reqs)], capsys)
    assert code == 1, out
    line = next(line for line in out.splitlines() if line.strip().startswith("requests==2.30.0"))
    assert "PYSEC-2023-74" in line
    assert "CVE-2023-32681" in line and "GHSA-j8r2-6x86-q33q" in line
    assert "fixed in 2.31.0" in line
    assert "Snapshot dated 2024-10-10" in out
    assert "published after 2024-10-10 are NOT covered" in out


def test_known_vulnerable_pin_from_the_versions_list(
    real_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # vulns/jinja2/PYSEC-2021-66.yaml (urlize ReDoS, fixed 2.11.3) lists '2.10' by name.
    reqs = requirements(tmp_path, "Jinja2==2.10")
    code, out, _ = run(["--db", str(real_db), "--requirements", str(reqs)], capsys)
    assert code == 1, out
    assert "PYSEC-2021-66" in out


def test_fixed_version_passes(real_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reqs = requirements(tmp_path, "requests==2.31.0", "jinja2==2.11.3")
    code, out, _ = run(["--db", str(real_db), "--requirements", str(reqs)], capsys)
    assert code == 0, out
    assert "Checked 2 pinned requirements" in out
    assert "No known vulnerabilities as of 2024-10-10" in out


def test_the_projects_own_pins_are_checked(real_db: Path) -> None:
    # The CLI as CI runs it: default requirement files, default database location.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--db", str(real_db)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    expected = set()
    files = checker.default_requirement_files()
    assert {"requirements.txt", "requirements-dev.txt", "requirements-infra.txt"} <= {f.name for f in files}
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", line):
                expected.add(line.split("#")[0].strip().lower())
    assert expected, "no pins found in the requirement files"
    assert f"Checked {len(expected)} pinned requirements" in result.stdout, result.stdout
    assert "Snapshot dated 2024-10-10" in result.stdout
    # A finding here is a real one: upgrade the pin (or --ignore it with a reason in CI).
    assert result.returncode == 0, result.stdout + result.stderr


# --- the version logic, on tiny databases ----------------------------------------------


@pytest.mark.parametrize(
    ("version", "affected"),
    [("0.9", False), ("1.0", True), ("1.4.9", True), ("1.5", False), ("1.5.0", False), ("2.0", False)],
)
def test_introduced_and_fixed_bounds(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str, affected: bool
) -> None:
    advisory(tiny_db, "demo", "TEST-1", ecosystem("demo", "TEST-1", "- introduced: '1.0'\n- fixed: '1.5'"))
    code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, f"demo=={version}"))], capsys)
    assert code == (1 if affected else 0), out
    assert ("TEST-1" in out) is affected


@pytest.mark.parametrize(("version", "affected"), [("0.1", True), ("2.3.0", True), ("2.3", True), ("2.3.1", False)])
def test_last_affected_is_inclusive(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str, affected: bool
) -> None:
    advisory(tiny_db, "demo", "TEST-2", ecosystem("demo", "TEST-2", "- introduced: '0'\n- last_affected: 2.3.0"))
    code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, f"demo=={version}"))], capsys)
    assert code == (1 if affected else 0), out
    if affected:
        assert "no fixed version listed (last affected: 2.3.0)" in out


def test_two_ranges_and_the_fix_that_applies(tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = "- introduced: '1.0'\n- fixed: '1.2'\n- introduced: '2.0'\n- fixed: '2.4'"
    advisory(tiny_db, "demo", "TEST-3", ecosystem("demo", "TEST-3", events))
    reqs = requirements(tmp_path, "demo==2.1")
    code, out, _ = run(["--db", str(tiny_db), "-r", str(reqs)], capsys)
    assert code == 1
    assert "fixed in 2.4" in out and "1.2" not in out.split("TEST-3")[1]
    code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, "demo==1.5"))], capsys)
    assert code == 0, out


def test_withdrawn_advisory_is_ignored(tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = ecosystem("demo", "TEST-4", "- introduced: '0'", extra="withdrawn: '2023-06-06T10:37:00Z'")
    advisory(tiny_db, "demo", "TEST-4", body)
    code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, "demo==1.0"))], capsys)
    assert code == 0, out
    assert "1 withdrawn, ignored" in out


def test_versions_list_without_ranges_and_pep440_equality(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Unquoted 1.10 must stay "1.10" (a YAML float would make it 1.1).
    advisory(
        tiny_db,
        "demo",
        "TEST-5",
        """
        id: TEST-5
        affected:
        - package: {name: demo, ecosystem: PyPI}
          versions:
          - 1.10
          - 3.0
        """,
    )
    cases = {"1.10": 1, "1.10.0": 1, "1.1": 0, "3.0.0": 1, "3.1": 0}
    for version, expected in cases.items():
        code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, f"demo=={version}"))], capsys)
        assert code == expected, (version, out)


def test_names_are_canonicalised(tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    advisory(tiny_db, "zope-interface", "TEST-6", ecosystem("Zope.Interface", "TEST-6", "- introduced: '0'"))
    reqs = requirements(tmp_path, "zope_INTERFACE[extra]==5.0 ; python_version >= '3'  # trailing comment")
    code, out, _ = run(["--db", str(tiny_db), "-r", str(reqs)], capsys)
    assert code == 1, out
    assert "zope-interface==5.0" in out and "TEST-6" in out


def test_advisories_sharing_an_alias_are_one_finding(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    advisory(tiny_db, "demo", "PYSEC-1", ecosystem("demo", "PYSEC-1", "- introduced: '0'", aliases="[CVE-1]"))
    advisory(tiny_db, "demo", "GHSA-1", ecosystem("demo", "GHSA-1", "- introduced: '0'", aliases="[CVE-1, X-9]"))
    advisory(tiny_db, "demo", "PYSEC-2", ecosystem("demo", "PYSEC-2", "- introduced: '0'", aliases="[CVE-2]"))
    code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, "demo==1.0"))], capsys)
    assert code == 1
    assert "2 known vulnerabilities found" in out
    merged = next(line for line in out.splitlines() if "PYSEC-1" in line)
    assert "GHSA-1, PYSEC-1" in merged and "CVE-1" in merged and "X-9" in merged


def test_ignore_matches_an_alias(tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    advisory(tiny_db, "demo", "PYSEC-1", ecosystem("demo", "PYSEC-1", "- introduced: '0'", aliases="[CVE-1]"))
    reqs = str(requirements(tmp_path, "demo==1.0"))
    code, out, _ = run(["--db", str(tiny_db), "-r", reqs, "--ignore", "cve-1"], capsys)
    assert code == 0, out
    assert "ignored on purpose (--ignore): CVE-1" in out


def test_git_ranges_and_other_packages_do_not_match(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    advisory(
        tiny_db,
        "demo",
        "TEST-7",
        """
        id: TEST-7
        affected:
        - package: {name: demo, ecosystem: PyPI}
          ranges:
          - type: GIT
            repo: https://example.invalid/demo
            events:
            - introduced: '0'
          versions:
        """,
    )
    advisory(tiny_db, "other", "TEST-8", ecosystem("other", "TEST-8", "- introduced: '0'"))
    code, out, _ = run(["--db", str(tiny_db), "-r", str(requirements(tmp_path, "demo==1.0"))], capsys)
    assert code == 0, out


def test_includes_are_followed_and_unpinned_lines_reported(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    advisory(tiny_db, "deep", "TEST-9", ecosystem("deep", "TEST-9", "- introduced: '0'\n- fixed: '2.0'"))
    requirements(tmp_path, "deep==1.0", "loose>=1", name="base.txt")
    requirements(tmp_path, "--index-url https://example.invalid/simple", "-c constraints.txt", name="extra.txt")
    requirements(tmp_path, "shallow==\\", "  3.0", name="constraints.txt")
    top = requirements(tmp_path, "-r base.txt", "--requirement=extra.txt", "-r base.txt")
    code, out, _ = run(["--db", str(tiny_db), "-r", str(top)], capsys)
    assert code == 1, out
    assert "Checked 2 pinned requirements" in out  # deep and shallow, base.txt read once
    assert "deep==1.0 (" in out and "base.txt:1" in out
    assert "not pinned with ==, not checked:" in out and "loose>=1" in out


def test_freeze_checks_installed_distributions(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site-packages"
    for name, version in [("Transitive_Dep", "0.5"), ("pip", "1.0"), ("clean", "9.9")]:
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    advisory(tiny_db, "transitive-dep", "TEST-10", ecosystem("transitive-dep", "TEST-10", "- introduced: '0'"))
    advisory(tiny_db, "pip", "TEST-11", ecosystem("pip", "TEST-11", "- introduced: '0'"))
    reqs = str(requirements(tmp_path, "clean==9.9"))
    code, out, _ = run(["--db", str(tiny_db), "-r", reqs, "--freeze", "--env-path", str(site)], capsys)
    assert code == 1, out
    assert "transitive-dep==0.5 (installed): TEST-10" in out
    assert "skipped as pip freeze does (use --all to include): pip==1.0" in out
    assert "TEST-11" not in out
    code, out, _ = run(["--db", str(tiny_db), "-r", reqs, "--freeze", "--all", "--env-path", str(site)], capsys)
    assert "pip==1.0 (installed): TEST-11" in out


def test_freeze_of_an_empty_environment_is_an_error(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    advisory(tiny_db, "demo", "TEST-1", ecosystem("demo", "TEST-1", "- introduced: '0'"))
    (tmp_path / "empty").mkdir()
    reqs = str(requirements(tmp_path, "clean==1.0"))
    code, _, err = run(["--db", str(tiny_db), "-r", reqs, "--freeze", "--env-path", str(tmp_path / "empty")], capsys)
    assert code == 2
    assert "no installed distributions" in err


# --- it never passes by checking nothing -----------------------------------------------


def test_missing_database_exits_2_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVISORY_DB", str(tmp_path / "nowhere"))
    code, out, err = run(["-r", str(requirements(tmp_path, "demo==1.0"))], capsys)
    assert code == 2
    assert "advisory database not found" in err and str(tmp_path / "nowhere") in err
    assert out == ""


def test_database_from_the_environment_variable(
    tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    advisory(tiny_db, "demo", "TEST-1", ecosystem("demo", "TEST-1", "- introduced: '0'"))
    monkeypatch.setenv("ADVISORY_DB", str(tiny_db))
    code, out, _ = run(["-r", str(requirements(tmp_path, "demo==1.0"))], capsys)
    assert code == 1
    assert "Snapshot dated 2001-02-03" in out and "published after 2001-02-03 are NOT covered" in out


def test_default_database_sits_beside_the_repository() -> None:
    assert checker.default_db_path() == ROOT.parent / "shared" / "data" / "pypa-advisory-db"


def test_empty_or_corrupt_database_exits_2(tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reqs = str(requirements(tmp_path, "demo==1.0"))
    (tiny_db / "vulns").mkdir()
    code, _, err = run(["--db", str(tiny_db), "-r", reqs], capsys)
    assert code == 2 and "is empty" in err
    advisory(tiny_db, "demo", "BROKEN", "id: [unclosed\n")
    code, _, err = run(["--db", str(tiny_db), "-r", reqs], capsys)
    assert code == 2 and "BROKEN.yaml" in err


def test_missing_requirements_file_exits_2(tiny_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    advisory(tiny_db, "demo", "TEST-1", ecosystem("demo", "TEST-1", "- introduced: '0'"))
    code, _, err = run(["--db", str(tiny_db), "-r", str(tmp_path / "absent.txt")], capsys)
    assert code == 2 and "absent.txt" in err
