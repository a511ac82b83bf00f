"""The docs point users at example roots and tell them which module variables to set:
every such variable must be declared by the root the docs point at, or Terraform only
warns "Value for undeclared variable" and the safeguard is silently not deployed.

A paragraph that names a root (infra/terraform/examples/<root>) points at it; one that
names none points at the roots its section names, else at the roots its document names
(a document that names no root points at none). A variable is "told to set" where the docs
write `name = value` for a module variable.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._infra import ROOT, TF_DIR, load_module, load_tf

EXAMPLES = TF_DIR / "examples"
DOCS = [ROOT / "README.md", ROOT / "infra" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOT_NAME = re.compile(r"examples/(\w+)")
ASSIGNMENT = re.compile(r"(?<![\w.\"-])([a-z][a-z0-9_]*) = ")


def roots() -> dict[str, set[str]]:
    """Each example root -> what it lets a user set: its variables, and the arguments it
    passes to the module as fixed values."""
    found = {}
    for directory in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        parsed = load_module(directory)
        (body,) = parsed["module"].values()
        fixed = {k for k, v in body.items() if k != "source" and "var." not in str(v)}
        found[directory.name] = set(parsed["variable"]) | fixed
    return found


def sections(text: str) -> list[list[str]]:
    """The document's sections (split at headings), each a list of paragraphs (fenced
    code blocks are paragraphs of their own)."""
    result: list[list[str]] = [[]]
    paragraph: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("#") and not line.startswith("#!"):
            result[-1].append("\n".join(paragraph))
            paragraph = []
            result.append([])
        if not fenced and not line.strip():
            result[-1].append("\n".join(paragraph))
            paragraph = []
        else:
            paragraph.append(line)
    result[-1].append("\n".join(paragraph))
    return [[p for p in section if p.strip()] for section in result]


def told_to_set(text: str, module_variables: set[str]) -> set[str]:
    return {name for name in ASSIGNMENT.findall(text) if name in module_variables}


def missing_declarations(documents: dict[str, str]) -> list[str]:
    module_variables = set(load_module(TF_DIR)["variable"])
    declared = roots()
    problems = []
    for name, text in documents.items():
        document_roots = set(ROOT_NAME.findall(text)) & set(declared)
        for section in sections(text):
            section_roots = (set(ROOT_NAME.findall("\n".join(section))) & set(declared)) or document_roots
            for paragraph in section:
                pointed = (set(ROOT_NAME.findall(paragraph)) & set(declared)) or section_roots
                for variable in sorted(told_to_set(paragraph, module_variables)):
                    for root in sorted(pointed):
                        if variable not in declared[root]:
                            problems.append(f"{name}: `{variable} = ...` but examples/{root} does not declare it")
    return problems


def test_every_variable_the_docs_tell_users_to_set_is_declared_by_the_root_they_point_at() -> None:
    documents = {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in DOCS}
    assert set(roots()) == {"public_webhook", "scheduled"}
    problems = missing_declarations(documents)
    assert not problems, "\n".join(problems)


def test_the_check_finds_an_undeclared_variable() -> None:
    """The situation this guards against: README points at the scheduled root, and a few
    paragraphs later tells users to set variables that root would not declare."""
    document = (
        "## Deploy\n\n```sh\ncd infra/terraform/examples/scheduled\n```\n\n"
        'Then set `not_a_variable = 1` and `audit_sink = "log_bucket"`.\n\n'
        "For webhooks, use examples/public_webhook with `public_access = true`.\n"
    )
    problems = missing_declarations({"README.md": document})
    assert problems == [], problems  # both real variables are declared where pointed
    declared = roots()
    assert "public_access" not in declared["scheduled"] and "public_access" in declared["public_webhook"]
    wrong = document.replace("For webhooks, use examples/public_webhook with", "For webhooks, set")
    assert missing_declarations({"README.md": wrong}) == [
        "README.md: `public_access = ...` but examples/scheduled does not declare it"
    ]


def test_every_variable_an_example_declares_reaches_the_module() -> None:
    """A root variable not passed on would be set by a user and change nothing."""
    for directory in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        main = (directory / "main.tf").read_text(encoding="utf-8")
        for variable in load_module(directory)["variable"]:
            assert re.search(rf"^  {variable}\s+= var\.{variable}$", main, flags=re.MULTILINE), (directory, variable)


def test_each_example_tfvars_sets_only_what_its_root_declares() -> None:
    for directory in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        values = load_tf(Path(directory / "terraform.tfvars.example"))
        declared = set(load_module(directory)["variable"])
        assert set(values) <= declared, (directory.name, set(values) - declared)
        assert {"project_id", "cec_base_url"} <= set(values)
