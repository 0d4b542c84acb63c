"""The package's import graph: layered, without cycles, read from the source (ast).

Every import counts, at module level, inside functions, under TYPE_CHECKING and through
``importlib.import_module`` with a literal name: a function-level import may defer a heavy
dependency, but never hides a cycle.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import streamwidgets

ROOT = Path(streamwidgets.__file__).parent

#: Each package or top-level module, lowest first; one may import only from its own
#: rank or below, and a package's modules only sideways within it.
LAYERS: list[set[str]] = [
    {"_util", "exceptions", "events"},
    {"buffer"},
    {"recording"},
    {"connection"},
    {"dialects"},
    {"simulators"},
    {"replay"},
    {"relay"},
    {"feeds"},
    {"headless"},
    {"widget"},
    {"cli"},
    {"__init__", "__main__"},
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ("streamwidgets", *path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join([*here, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names]
                if not all(t in modules for t in targets):
                    targets.append(base)  # names defined in the module itself
            elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
                # importlib.import_module("streamwidgets.x") or __import__("streamwidgets.x")
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                targets = [first.value.partition(":")[0]]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].add(target)
    return edges


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    units = {_unit(m) for m in _modules()}
    placed = set().union(*LAYERS)
    assert units <= placed, f"modules outside any layer: {sorted(units - placed)}"


def test_no_import_cycles():
    assert _cycles(_imports(_modules())) == []


def test_layers_import_only_downwards():
    upward = []
    for module, targets in _imports(_modules()).items():
        for target in targets:
            if _rank(_unit(target)) > _rank(_unit(module)):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_package_inits_are_not_imported_from_inside():
    # A module importing its own package's __init__ would run the package's re-exports
    # first, which is how two-module cycles hide.
    inside = []
    modules = _modules()
    for module, targets in _imports(modules).items():
        for target in targets:
            if modules[target].name == "__init__.py" and module.startswith(target + "."):
                inside.append(f"{module} -> {target}")
    assert inside == []
