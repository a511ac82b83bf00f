"""The package's shape: layers import only downwards, and no module imports itself back.

function/ is grouped by layer, top to bottom: edge (HTTP), deletion (what a request
does), state (the idempotency store), callers (authentication, policies, plan tokens,
audit), cec (the CEC client). The modules directly in function/ are the foundations
every layer may use; runtime.py is the composition root that builds the per-instance
objects of every layer below the edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "function"
LAYERS = ("edge", "deletion", "state", "callers", "cec")  # top to bottom
COMPOSITION_ROOT = "function.runtime"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every function.* module this one imports, at the top or inside a function."""
    result: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "function":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                result.add(candidate if candidate in known else node.module)
        elif isinstance(node, ast.Import):
            result.update(a.name for a in node.names if a.name.split(".")[0] == "function")
    return result


def _rank(module: str) -> int:
    """0 for the foundations, higher for higher layers."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return len(LAYERS) - LAYERS.index(parts[1])
    return 0


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def test_every_module_belongs_to_a_layer_or_the_foundations() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS), packages ^ set(LAYERS)


def test_layers_import_only_downwards() -> None:
    upward = []
    for module, deps in _graph().items():
        for dep in deps:
            if module == COMPOSITION_ROOT:
                allowed = _rank(dep) < len(LAYERS)  # everything but the edge
            elif _rank(module) == 0:
                allowed = _rank(dep) == 0  # foundations use foundations only
            else:
                allowed = _rank(dep) <= _rank(module)
            if not allowed:
                upward.append(f"{module} -> {dep}")
    assert not upward, upward


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep.startswith(node + "."):
                continue  # a package's __init__ importing its own modules
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles
