#!/usr/bin/env python3
"""Check pinned requirements against an offline snapshot of the PyPA advisory database.

Why not pip-audit: the only registry reachable from this machine (and its CI) does not
serve vulnerability data, so pip-audit skips every package and still prints "No known
vulnerabilities found" -- a check that cannot fail. This script reads the OSV advisories
of a dated snapshot of github.com/pypa/advisory-database on disk instead, so a finding
is a real finding and an empty result means "nothing known as of the snapshot date".

What is checked:
  * every ``name==version`` pin in the repository root's requirements*.txt files
    (requirements.txt, -dev, -infra, -bench, ...; or only the files given with
    ``--requirements``), following ``-r``/``-c`` includes;
  * with ``--freeze``, also every distribution installed in the running interpreter's
    environment (or in ``--env-path`` directories), the way ``pip freeze`` lists them:
    the unpinned transitive dependencies are what actually runs.

The database is found at ``--db``, else ``$ADVISORY_DB``, else
``<repo>/../shared/data/pypa-advisory-db`` (CI runs in a fresh clone with ``shared/``
beside it). Layout: ``vulns/<package>/<ID>.yaml`` (OSV schema, YAML) and SNAPSHOT.txt.

Exit status: 0 no finding, 1 at least one finding, 2 the database or a requirements
file could not be read (the reason is printed): never a silent pass.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parent.parent
# A glob, not a list: a requirements file added later is checked without anyone
# remembering to add it here.
DEFAULT_REQUIREMENTS = "requirements*.txt"
DB_ENV_VAR = "ADVISORY_DB"
# pip freeze leaves these out unless --all: they are the environment's installer, not
# something the project installs or deploys. They are listed as skipped, never hidden.
FREEZE_SKIPPED = frozenset({"pip", "setuptools", "wheel", "distribute"})

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _load_yaml(text: str) -> Any:
    """Parse with the base loader: every scalar stays a string, and no object can be built.

    The safe loader would turn an unquoted version such as 1.10 into the float 1.1, a
    different version. libyaml's loader parses the whole database in about a second
    instead of ten.
    """
    # B506 is silenced below: bandit accepts only SafeLoader by name, but the base loaders are stricter
    # still: they resolve no tags and construct nothing but str, list and dict.
    loader = yaml.CBaseLoader if yaml.__with_libyaml__ else yaml.BaseLoader
    return yaml.load(text, Loader=loader)  # nosec B506


class CheckError(Exception):
    """The check cannot be done (missing or unreadable database or requirements file)."""


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: str  # as written: reported back verbatim
    source: str  # where it came from: "requirements.txt:3" or "installed"


@dataclass
class Advisory:
    id: str
    aliases: tuple[str, ...]
    path: Path
    # Per affected entry for one package: (ECOSYSTEM ranges as event lists, versions list).
    affected: dict[NormalizedName, list[tuple[list[list[tuple[str, str]]], list[str]]]] = field(default_factory=dict)


@dataclass
class Database:
    root: Path
    snapshot_date: str | None
    snapshot_text: str
    by_package: dict[NormalizedName, list[Advisory]]
    advisories: int
    withdrawn: int


@dataclass
class Finding:
    pin: Pin
    ids: list[str]  # advisory ids in the snapshot that describe this vulnerability
    aliases: list[str]  # CVE / GHSA ids, merged across those advisories
    fixed: list[str]  # versions that fix it, per the advisories; empty when none listed
    last_affected: list[str]


# --- requirements ---------------------------------------------------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with comments removed and backslash continuations joined, as pip reads them."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        # pip treats " #" (whitespace then #) or a leading # as a comment; a # inside a URL stays.
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer = ""
    if buffer.strip():
        yield start, buffer.strip()


_INCLUDE = re.compile(r"^(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^-\s]))(?P<file>\S+)")


def read_pins(files: Iterable[Path], unpinned: list[str]) -> list[Pin]:
    """Every ``name==version`` pin in ``files`` and what they include; other lines go to ``unpinned``."""
    pins: list[Pin] = []
    seen_files: set[Path] = set()

    def visit(path: Path) -> None:
        resolved = path.resolve()
        if resolved in seen_files:  # an include cycle or a file included twice
            return
        seen_files.add(resolved)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CheckError(f"cannot read requirements file {path}: {exc.strerror or exc}") from exc
        shown = _display(path)
        for number, line in _logical_lines(text):
            include = _INCLUDE.match(line)
            if include:
                visit(path.parent / include.group("file"))
                continue
            if line.startswith("-"):  # --index-url, --hash on its own, -e ...: nothing to pin
                continue
            # "--hash=..." options after a requirement are pip's, not PEP 508.
            spec = re.split(r"\s+--", line, maxsplit=1)[0]
            try:
                requirement = Requirement(spec)
            except InvalidRequirement:
                unpinned.append(f"{shown}:{number}: {line} (not a requirement packaging can parse)")
                continue
            specifiers = list(requirement.specifier)
            if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version:
                pins.append(Pin(canonicalize_name(requirement.name), specifiers[0].version, f"{shown}:{number}"))
            else:
                unpinned.append(f"{shown}:{number}: {line}")

    for path in files:
        visit(path)
    return pins


def installed_pins(paths: Sequence[str] | None, include_all: bool, skipped: list[str]) -> list[Pin]:
    """Distributions installed in this interpreter's environment (or in ``paths``), like pip freeze."""
    for directory in paths or ():
        if not Path(directory).is_dir():
            raise CheckError(f"--env-path {directory} is not a directory")
    found: dict[NormalizedName, Pin] = {}
    distributions = importlib.metadata.distributions(path=list(paths)) if paths else importlib.metadata.distributions()
    for dist in distributions:
        raw_name = dist.metadata["Name"]
        if not raw_name:  # a broken .dist-info: nothing to match on
            continue
        name = canonicalize_name(raw_name)
        if name in found:  # the first one on sys.path is the one imported, as pip sees it
            continue
        if name in FREEZE_SKIPPED and not include_all:
            skipped.append(f"{name}=={dist.version}")
            continue
        found[name] = Pin(name, dist.version, "installed")
    if not found and not skipped:
        # An empty environment is a wrong path, not a clean bill of health.
        raise CheckError(f"--freeze found no installed distributions in {', '.join(paths or [sys.prefix])}")
    return sorted(found.values(), key=lambda pin: pin.name)


# --- database -------------------------------------------------------------------------


def default_requirement_files() -> list[Path]:
    return sorted(path for path in REPO_ROOT.glob(DEFAULT_REQUIREMENTS) if path.is_file())


def default_db_path() -> Path:
    return REPO_ROOT.parent / "shared" / "data" / "pypa-advisory-db"


def _as_list(value: Any) -> list[Any]:
    # With the base loader an empty "versions:" is "" rather than None; treat any
    # non-list as absent instead of iterating a string's characters.
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _parse_advisory(path: Path) -> Advisory | None:
    """One OSV file; None when withdrawn. Raises CheckError when it cannot be read."""
    try:
        data = _as_dict(_load_yaml(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        # A corrupt file fails the check: skipping it would be the silent pass this
        # script exists to avoid.
        raise CheckError(f"cannot read advisory {path}: {exc}") from exc
    if data.get("withdrawn"):
        return None
    advisory = Advisory(
        id=str(data.get("id") or path.stem),
        aliases=tuple(str(alias) for alias in _as_list(data.get("aliases"))),
        path=path,
    )
    for entry in map(_as_dict, _as_list(data.get("affected"))):
        package = _as_dict(entry.get("package"))
        if str(package.get("ecosystem", "PyPI")) != "PyPI" or not package.get("name"):
            continue
        ranges = [
            [(str(key), str(value)) for event in _as_list(r.get("events")) for key, value in _as_dict(event).items()]
            for r in map(_as_dict, _as_list(entry.get("ranges")))
            # GIT ranges name commits, not releases; the ECOSYSTEM range says the same in versions.
            if r.get("type") == "ECOSYSTEM"
        ]
        versions = [str(v) for v in _as_list(entry.get("versions"))]
        name = canonicalize_name(str(package["name"]))
        advisory.affected.setdefault(name, []).append((ranges, versions))
    return advisory


def _snapshot_date(text: str) -> str | None:
    match = re.search(r"dated\s+(\d{4}-\d{2}-\d{2})", text) or re.search(r"\b(\d{4}-\d{2}-\d{2})\b", text)
    return match.group(1) if match else None


def load_database(root: Path) -> Database:
    vulns = root / "vulns"
    if not vulns.is_dir():
        raise CheckError(
            f"advisory database not found: {vulns} is not a directory. Give its location with --db "
            f"or ${DB_ENV_VAR} (a snapshot of github.com/pypa/advisory-database with vulns/<package>/<ID>.yaml)"
        )
    files = sorted(vulns.glob("*/*.yaml"))
    if not files:
        raise CheckError(f"advisory database at {root} is empty: no vulns/<package>/<ID>.yaml files")
    snapshot_file = root / "SNAPSHOT.txt"
    snapshot_text = snapshot_file.read_text(encoding="utf-8").strip() if snapshot_file.is_file() else ""
    by_package: dict[NormalizedName, list[Advisory]] = {}
    withdrawn = 0
    for path in files:
        advisory = _parse_advisory(path)
        if advisory is None:
            withdrawn += 1
            continue
        for name in advisory.affected:
            by_package.setdefault(name, []).append(advisory)
    return Database(root, _snapshot_date(snapshot_text), snapshot_text, by_package, len(files), withdrawn)


# --- version logic --------------------------------------------------------------------


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_range(version: Version, events: list[tuple[str, str]]) -> bool:
    """OSV's evaluation of one ECOSYSTEM range (ossf.github.io/osv-schema, "Evaluation").

    Events are sorted by version, "0" first; walking them, ``introduced`` turns the range
    on at or above it, ``fixed`` off at or above it, ``last_affected`` off strictly above
    it. ``limit`` caps the range. An event whose version packaging cannot parse is left
    out (two in the 2024-10 snapshot, both in packages unrelated to this project).
    """
    parsed: list[tuple[str, Version | None]] = []
    for kind, value in events:
        if kind == "introduced" and value == "0":
            parsed.append((kind, None))  # None sorts first: "0" means "from the beginning"
        elif (bound := _version(value)) is not None:
            parsed.append((kind, bound))
    for kind, bound in parsed:
        if kind == "limit" and bound is not None and version >= bound:
            return False
    parsed.sort(key=lambda event: (event[1] is not None, event[1] or Version("0")))
    affected = False
    for kind, bound in parsed:
        if kind == "introduced" and (bound is None or version >= bound):
            affected = True
        elif (kind == "fixed" and bound is not None and version >= bound) or (
            kind == "last_affected" and bound is not None and version > bound
        ):
            affected = False
    return affected


def _listed(version: Version, raw: str, versions: list[str]) -> bool:
    for listed in versions:
        other = _version(listed)
        # PEP 440 equality (1.0 == 1.0.0); legacy strings packaging cannot parse compare as text.
        if (other is not None and other == version) or listed == raw:
            return True
    return False


def advisory_applies(advisory: Advisory, pin: Pin) -> bool:
    version = _version(pin.version)
    for ranges, versions in advisory.affected.get(pin.name, []):
        if version is None:
            if pin.version in versions:
                return True
            continue
        if _listed(version, pin.version, versions) or any(in_range(version, events) for events in ranges):
            return True
    return False


def _sorted_versions(values: Iterable[str]) -> list[str]:
    return sorted(set(values), key=lambda v: (_version(v) is None, _version(v) or Version("0"), v))


def check(pins: Sequence[Pin], database: Database, ignore: frozenset[str] = frozenset()) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for pin in pins:
        if (pin.name, pin.version) in seen:  # the same pin from two files (or a file and the venv)
            continue
        seen.add((pin.name, pin.version))
        matching = [
            a
            for a in database.by_package.get(pin.name, [])
            if advisory_applies(a, pin) and not ({a.id, *a.aliases} & ignore)
        ]
        # Two advisories that share an id or alias (a PYSEC and its GHSA twin, say) are one
        # vulnerability: report it once, with every id, instead of twice.
        groups: list[tuple[set[str], list[Advisory]]] = []
        for advisory in matching:
            names = {advisory.id, *advisory.aliases}
            joined = [g for g in groups if g[0] & names]
            merged: tuple[set[str], list[Advisory]] = (names, [advisory])
            for group in joined:
                groups.remove(group)
                merged[0].update(group[0])
                merged[1].extend(group[1])
            groups.append(merged)
        for names, advisories in groups:
            ids = sorted({a.id for a in advisories})
            fixed = [
                value
                for a in advisories
                for ranges, _ in a.affected.get(pin.name, [])
                for events in ranges
                for kind, value in events
                if kind == "fixed"
            ]
            last = [
                value
                for a in advisories
                for ranges, _ in a.affected.get(pin.name, [])
                for events in ranges
                for kind, value in events
                if kind == "last_affected"
            ]
            findings.append(
                Finding(pin, ids, sorted(names - set(ids)), _sorted_versions(fixed), _sorted_versions(last))
            )
    return findings


# --- command line ---------------------------------------------------------------------


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _fix_advice(finding: Finding) -> str:
    version = _version(finding.pin.version)
    later = [f for f in finding.fixed if version is None or (_version(f) or version) > version]
    if later:
        return "fixed in " + ", ".join(later)
    if finding.last_affected:
        return f"no fixed version listed (last affected: {', '.join(finding.last_affected)})"
    return "no fixed version listed"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Check pinned requirements against an offline snapshot of the PyPA advisory database (OSV)."
    )
    parser.add_argument(
        "--requirements",
        "-r",
        action="append",
        type=Path,
        metavar="FILE",
        help="a requirements file to check (repeatable; -r/-c includes are followed). "
        f"Default: every {DEFAULT_REQUIREMENTS} at the repository root",
    )
    parser.add_argument(
        "--db",
        type=Path,
        help=f"advisory database directory (default: ${DB_ENV_VAR}, else <repo>/../shared/data/pypa-advisory-db)",
    )
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="also check every installed distribution (this interpreter's environment, or --env-path), "
        "as pip freeze lists them: transitive dependencies included",
    )
    parser.add_argument(
        "--env-path",
        action="append",
        metavar="DIR",
        help="with --freeze: a site-packages directory to read instead of this interpreter's (repeatable)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        dest="include_all",
        help="with --freeze: do not skip pip, setuptools, wheel, distribute (like pip freeze --all)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="ID",
        help="an advisory id or alias (PYSEC-, GHSA-, CVE-) to accept knowingly (repeatable)",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = sys.stdout
    db_path: Path = args.db or (Path(os.environ[DB_ENV_VAR]) if os.environ.get(DB_ENV_VAR) else default_db_path())
    try:
        database = load_database(db_path)
        if args.requirements:
            files = list(args.requirements)
        else:
            files = default_requirement_files()
            if not files:
                raise CheckError(f"no requirements file found at {REPO_ROOT} ({DEFAULT_REQUIREMENTS})")
        unpinned: list[str] = []
        pins = read_pins(files, unpinned)
        skipped: list[str] = []
        installed = installed_pins(args.env_path, args.include_all, skipped) if args.freeze else []
    except CheckError as exc:
        print(f"check_advisories: ERROR: {exc}", file=sys.stderr)
        print("check_advisories: nothing was checked (exit 2)", file=sys.stderr)
        return EXIT_ERROR

    date = database.snapshot_date or "unknown (no date in SNAPSHOT.txt)"
    print(f"Advisory database: {database.root}", file=out)
    print(
        f"Snapshot dated {date}: {database.advisories} advisories ({database.withdrawn} withdrawn, ignored). "
        f"Advisories published after {date} are NOT covered.",
        file=out,
    )
    print(f"Requirement files: {', '.join(_display(f) for f in files)}", file=out)
    for line in unpinned:
        print(f"  not pinned with ==, not checked: {line}", file=out)

    ignore = frozenset(i.strip().upper() for i in args.ignore)
    findings = check([*pins, *installed], database, frozenset(ignore))
    pinned_names = {(p.name, p.version) for p in pins}
    extra_installed = [p for p in installed if (p.name, p.version) not in pinned_names]
    print(f"Checked {len({(p.name, p.version) for p in pins})} pinned requirements", file=out, end="")
    if args.freeze:
        where = ", ".join(args.env_path) if args.env_path else sys.prefix
        print(f" and {len(extra_installed)} more installed distributions ({where})", file=out, end="")
    print(".", file=out)
    if skipped:
        print(f"  skipped as pip freeze does (use --all to include): {', '.join(skipped)}", file=out)
    if ignore:
        print(f"  ignored on purpose (--ignore): {', '.join(sorted(ignore))}", file=out)

    if not findings:
        print(f"No known vulnerabilities as of {date}.", file=out)
        return EXIT_OK
    print(f"{len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'} found:", file=out)
    for finding in findings:
        pin = finding.pin
        aliases = ", ".join(finding.aliases) or "none"
        print(
            f"  {pin.name}=={pin.version} ({pin.source}): {', '.join(finding.ids)} "
            f"[aliases: {aliases}]; {_fix_advice(finding)}",
            file=out,
        )
    return EXIT_FINDINGS


if __name__ == "__main__":
    sys.exit(run())
