"""What is checked: ``name==version`` pins from requirement files, and installed distributions."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from advisories import REPO_ROOT, CheckError

# A glob, not a list: a requirements file added later is checked without anyone
# remembering to add it here.
DEFAULT_REQUIREMENTS = "requirements*.txt"

# pip freeze leaves these out unless --all: they are the environment's installer, not
# something the project installs or deploys. They are listed as skipped, never hidden.
FREEZE_SKIPPED = frozenset({"pip", "setuptools", "wheel", "distribute"})


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: str  # as written: reported back verbatim
    source: str  # where it came from: "requirements.txt:3" or "installed"


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
        shown = display_path(path)
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


def default_requirement_files() -> list[Path]:
    return sorted(path for path in REPO_ROOT.glob(DEFAULT_REQUIREMENTS) if path.is_file())


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
