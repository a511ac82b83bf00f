"""The parts of scripts/check_advisories.py, one concern each: the OSV snapshot
(database), the pins to check (pins), and OSV's version matching (matching).

scripts/check_advisories.py is the entry point; run as a script, its directory is on
sys.path, which is how ``import advisories`` finds this package.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class CheckError(Exception):
    """The check cannot be done (missing or unreadable database or requirements file)."""
