"""The package's layering, checked from its source: no import circles, the pure libraries never import the Dagster
wiring, and the deployment settings are read from the environment in one module."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "medimind_assets"
# The Dagster wiring: what only the definitions (and each other) may import.
WIRING = ("assets", "resources", "definitions", "checks", "sensors", "conditions")
# Above the wiring: the command line checks a run config against the definitions before it launches one.
FRONT_END = ("cli",)


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medimind_assets"):
                # `from package import submodule` depends on the submodule, not on the package's __init__
                wanted = [f"{node.module}.{alias.name}" for alias in node.names]
                wanted = [w for w in wanted if w in modules] or [node.module]
            elif isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            else:
                continue
            graph[name].update(w for w in wanted if w in modules and w != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            if component:
                found.append(sorted([node, *component]))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_no_import_circles():
    assert _cycles(_imports(_modules())) == []


def test_the_libraries_never_import_the_dagster_wiring():
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in _imports(_modules()).items()
        if _layer(name) not in (*WIRING, *FRONT_END)
        for target in targets
        if _layer(target) in WIRING
    )
    assert upward == []


def _reads_medimind_variable(tree: ast.AST) -> bool:
    """`os.environ["MEDIMIND_..."]`, `os.environ.get("MEDIMIND_...")` or `os.getenv("MEDIMIND_...")`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            key, target = node.slice, ast.unparse(node.value)
        elif isinstance(node, ast.Call) and node.args:
            key, target = node.args[0], ast.unparse(node.func)
        else:
            continue
        environment = target in ("os.environ", "os.environ.get", "os.getenv")
        if environment and isinstance(key, ast.Constant) and str(key.value).startswith("MEDIMIND_"):
            return True
    return False


def test_deployment_settings_are_read_from_the_environment_in_one_module():
    readers = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if _reads_medimind_variable(ast.parse(path.read_text(encoding="utf-8")))
    )
    # config.py reads them through a mapping it is given (os.environ by default), so it does not show here:
    # any module that does is a second reader.
    assert readers == []
