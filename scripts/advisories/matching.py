"""OSV's version matching: which advisories apply to a pin, merged into findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from advisories.database import Advisory, Database
from advisories.pins import Pin


@dataclass
class Finding:
    pin: Pin
    ids: list[str]  # advisory ids in the snapshot that describe this vulnerability
    aliases: list[str]  # CVE / GHSA ids, merged across those advisories
    fixed: list[str]  # versions that fix it, per the advisories; empty when none listed
    last_affected: list[str]


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


def fix_advice(finding: Finding) -> str:
    version = _version(finding.pin.version)
    later = [f for f in finding.fixed if version is None or (_version(f) or version) > version]
    if later:
        return "fixed in " + ", ".join(later)
    if finding.last_affected:
        return f"no fixed version listed (last affected: {', '.join(finding.last_affected)})"
    return "no fixed version listed"
