"""The offline snapshot of the PyPA advisory database: OSV files read into advisories per package."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import NormalizedName, canonicalize_name

from advisories import REPO_ROOT, CheckError

DB_ENV_VAR = "ADVISORY_DB"


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
