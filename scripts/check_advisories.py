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
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from advisories import REPO_ROOT, CheckError
from advisories.database import DB_ENV_VAR, default_db_path, load_database
from advisories.matching import check, fix_advice
from advisories.pins import DEFAULT_REQUIREMENTS, default_requirement_files, display_path, installed_pins, read_pins

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


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
    print(f"Requirement files: {', '.join(display_path(f) for f in files)}", file=out)
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
            f"[aliases: {aliases}]; {fix_advice(finding)}",
            file=out,
        )
    return EXIT_FINDINGS


if __name__ == "__main__":
    sys.exit(run())
