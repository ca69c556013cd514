"""The house stays walkable: no import cycles between shoptrack's modules, and no module
past the size where it should have been split."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "shoptrack"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """shoptrack modules imported at module level (not inside functions, not TYPE_CHECKING)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in [node]:
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
            else:
                continue
            found.update(n for n in names if n in modules)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    modules = set(files)
    return {name: _imports(path, modules) - {name} for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its modules is not a cycle of concepts.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _unit(module: str) -> str:
    """A module's unit of concept: its sub-package (``shoptrack.store``), or itself."""
    parts = module.split(".")
    package = PACKAGE.parent.joinpath(*parts[:2])
    return ".".join(parts[:2]) if package.is_dir() else module


def test_no_import_cycles_between_packages() -> None:
    """``state.py`` importing ``store/`` while ``store/sql.py`` imports ``state`` is a cycle
    of concepts even when no single module imports itself back."""
    units: dict[str, set[str]] = {}
    for name, imported in _graph().items():
        units.setdefault(_unit(name), set()).update(_unit(m) for m in imported)
    for name in units:
        units[name].discard(name)
    cycle = _cycle(units)
    assert cycle is None, " -> ".join(cycle or [])


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"split these modules: {big}"
