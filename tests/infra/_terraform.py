"""Real Terraform runs against schema-only providers (../shared/tools/terraform-offline).

The stand-in serves the google provider's schema (6.14.0 and 6.50.0) to the real
Terraform CLI, so `init`, `validate` and `plan` run offline. Roots are staged into a
temporary copy of the repository (Terraform writes .terraform/, a lock file and the
source zip beside its root), one copy per provider version. The stand-in's venv and
mirrors are cached in .cache/terraform-offline (ignored by git): building them costs a
pip install, once per checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._infra import ROOT, _missing

VERSIONS = ("6.14.0", "6.50.0")
# The roots Terraform plans: the module's examples (planned with their
# terraform.tfvars.example) and one with every feature on.
EXAMPLES = {
    "example": "infra/terraform/examples/scheduled",
    "public_webhook": "infra/terraform/examples/public_webhook",
}
ROOTS = {
    **EXAMPLES,
    "all_features": "tests/infra/roots/all_features",
}
# Every directory of .tf files the static schema check reads.
MODULE_DIRS = ("infra/terraform", *ROOTS.values())
CACHE = ROOT / ".cache" / "terraform-offline"
PLAN_SUMMARY = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.")


def tool_dir() -> Path:
    """The shared stand-in: $TERRAFORM_OFFLINE, else ../shared beside the checkout."""
    configured = os.environ.get("TERRAFORM_OFFLINE")
    here = Path(configured) if configured else ROOT.parent / "shared" / "tools" / "terraform-offline"
    if not (here / "mirror.sh").is_file():
        _missing(f"the offline Terraform stand-in is not at {here} (set TERRAFORM_OFFLINE, or clone beside ../shared)")
    if shutil.which("terraform") is None:
        _missing("the terraform CLI is not on PATH")
    return here


def build_mirror(tool: Path, version: str) -> Path:
    """The CLI config for one google version. The stand-in's venv (a pip install) is
    built for the first version and shared by the others through a symlink."""
    out = CACHE / version
    out.mkdir(parents=True, exist_ok=True)
    first = venv_dir()
    if out / "venv" != first and (first / "bin" / "python").exists() and not (out / "venv").exists():
        (out / "venv").symlink_to(first, target_is_directory=True)
    result = subprocess.run(
        ["bash", str(tool / "mirror.sh"), str(out), version],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def venv_dir() -> Path:
    return CACHE / VERSIONS[0] / "venv"


def stage(target: Path) -> Path:
    """A copy of the Terraform trees and the deployable code's files, as in the repository."""
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "__pycache__")
    for relative in ("infra/terraform", "tests/infra/roots"):
        shutil.copytree(ROOT / relative, target / relative, ignore=ignore)
    for name in ("main.py", "requirements.txt", "function"):
        (target / name).symlink_to(ROOT / name)
    for path in EXAMPLES.values():
        shutil.copy(target / path / "terraform.tfvars.example", target / path / "terraform.tfvars")
    return target


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"$ terraform {' '.join(self.args)} (exit {self.returncode})\n{self.stdout}\n{self.stderr}"


def terraform(config: Path, cwd: Path, *args: str, timeout: int = 300) -> Run:
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }
    env.pop("TF_DATA_DIR", None)
    result = subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(list(args), result.returncode, result.stdout, result.stderr)


@dataclass
class RootPlan:
    """What init, validate and plan said about one root, and the plan as JSON."""

    runs: list[Run]
    plan: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(run.returncode == 0 for run in self.runs)

    @property
    def log(self) -> str:
        return "\n".join(run.output for run in self.runs)

    def summary(self) -> tuple[int, int, int]:
        match = PLAN_SUMMARY.search(self.runs[2].stdout)
        assert match, self.log
        add, change, destroy = (int(g) for g in match.groups())
        return add, change, destroy

    def resources(self) -> dict[str, dict[str, Any]]:
        """Planned resources by address, with their planned values ("after")."""
        return {rc["address"]: rc["change"]["after"] for rc in self.plan.get("resource_changes", [])}

    def unknown(self) -> dict[str, dict[str, Any]]:
        """By address, the values known only after apply ("after_unknown": true where unknown)."""
        return {rc["address"]: rc["change"]["after_unknown"] for rc in self.plan.get("resource_changes", [])}


def init_validate_plan(config: Path, root: Path) -> RootPlan:
    runs = [terraform(config, root, "init", "-no-color", "-input=false")]
    if runs[-1].returncode == 0:
        runs.append(terraform(config, root, "validate", "-no-color"))
    if runs[-1].returncode == 0:
        runs.append(terraform(config, root, "plan", "-refresh=false", "-no-color", "-input=false", "-out=tfplan"))
    plan: dict[str, Any] = {}
    if len(runs) == 3 and runs[-1].returncode == 0:
        shown = terraform(config, root, "show", "-json", "tfplan")
        assert shown.returncode == 0, shown.output
        plan = json.loads(shown.stdout)
    return RootPlan(runs, plan)


def hcl(value: Any) -> str:
    """A Python value as an HCL expression (HCL accepts JSON's literals, lists and objects)."""
    return json.dumps(value)
