"""infra/README.md's feature-parity table names every Terraform module variable and
every deploy.sh option, and nothing that does not exist."""

from __future__ import annotations

import re

from ._infra import DEPLOY_SH, ROOT, load_module

README = ROOT / "infra" / "README.md"


def table() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Feature parity: Terraform and deploy.sh", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]  # header, rule
    cells = [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in rows]
    assert all(len(c) == 3 for c in cells), cells
    return [(c[0], c[1], c[2]) for c in cells]


def script_options() -> set[str]:
    """The options deploy.sh's argument loop accepts."""
    text = DEPLOY_SH.read_text(encoding="utf-8")
    loop = text.split("while [[ $# -gt 0 ]]; do", 1)[1].split("\ndone", 1)[0]
    return set(re.findall(r"^\s+(--[a-z-]+)\)", loop, flags=re.MULTILINE))


def test_every_variable_and_option_is_in_the_table_and_exists() -> None:
    rows = table()
    variables = set(load_module()["variable"])
    named_variables = {v for _, tf, _ in rows for v in re.findall(r"`([a-z_]+)(?: = [^`]*)?`", tf)}
    named_options = {o for _, _, sh in rows for o in re.findall(r"`(--[a-z-]+)", sh)}
    options = script_options()
    assert len(options) > 30
    assert named_variables == variables, (
        "not in the table",
        variables - named_variables,
        "no such variable",
        named_variables - variables,
    )
    assert named_options - {"--cpu", "--update-env-vars"} == options, (options - named_options, named_options - options)
    # deploy.sh's usage documents each option too.
    usage = DEPLOY_SH.read_text(encoding="utf-8").split("EOF", 2)[1]
    assert not [o for o in options if o not in usage and o != "--help"], options


def test_a_feature_without_an_option_says_why() -> None:
    for feature, _, script in table():
        if "--" not in script:
            assert script.startswith(("none: ", "always ")), (feature, script)
