"""The house plan, kept by a test (CONTRIBUTING.md, "Layers"): no import cycle in ``src/``, no
import of our own modules hidden inside a function, every import going down the areas' order that
CONTRIBUTING's ``layers`` block gives, and the layer rules of its table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "pulsebox"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module ``name`` is, or the module that defines it (``pulsebox.x.NAME``), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of our own modules."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            if target.split(".")[0] == "pulsebox":
                found = _resolve(target)
                if found and found != module:
                    out.append((found, node.lineno, id(node) in in_function))
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def unit(module: str) -> str:
    """What the order ranks: an area (``pulsebox.outbox.tasks`` -> ``outbox``), a top-level module,
    or ``endpoints`` for every area's HTTP module (one layer above the areas it calls)."""
    parts = module.split(".")
    if parts[-1] == "endpoints":
        return "endpoints"
    return parts[1] if len(parts) > 1 else "pulsebox"


def _order() -> dict[str, int]:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "CONTRIBUTING.md needs its ```layers block"
    rank: dict[str, int] = {}
    for number, line in enumerate(reversed([line for line in block[1].splitlines() if line.strip()])):
        for name in line.split("#")[0].split():
            assert name not in rank, f"{name} is twice in CONTRIBUTING's layers"
            rank[name] = number
    return rank


def test_no_import_cycle():
    """Tarjan's strongly connected components over every import (also those inside functions or
    under TYPE_CHECKING): any component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        for target, _, _ in GRAPH[m]:
            if target not in index:
                visit(target)
                low[m] = min(low[m], low[target])
            elif target in stack:
                low[m] = min(low[m], index[target])
        if low[m] == index[m]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == m:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in sorted(GRAPH):
        if m not in index:
            visit(m)
    assert cycles == []


def test_no_import_of_our_modules_inside_a_function():
    hidden = [f"{m}:{line} imports {target}" for m, imports in GRAPH.items()
              for target, line, local in imports if local]
    assert hidden == []


def test_every_import_goes_down_the_layers():
    rank = _order()
    units = {unit(m) for m in MODULES}
    assert sorted(units - set(rank)) == [], "every area and top-level module has its line in CONTRIBUTING"
    assert sorted(set(rank) - units) == [], "CONTRIBUTING names only what exists"
    upward = [f"{m}:{line} imports {target} ({unit(m)} is not above {unit(target)})"
              for m, imports in GRAPH.items() for target, line, _ in imports
              if unit(m) != unit(target) and rank[unit(target)] >= rank[unit(m)]]
    assert upward == []


def _kind(module: str) -> str:
    return module.rsplit(".", 1)[-1]


# CONTRIBUTING.md, "Layer rules": (what a module is, what it must not import)
RULES = [
    ("endpoints", lambda t: _kind(t) == "repository" or unit(t) in ("db", "delivery", "models")),
    # a service may know what a transport's answer means (transports.base), never send through one
    ("service", lambda t: _kind(t) in ("endpoints", "tasks") or unit(t) in ("api", "app")
     or (t.startswith("pulsebox.delivery.transports") and t != "pulsebox.delivery.transports.base")),
    ("repository", lambda t: _kind(t) in ("service", "endpoints", "tasks") or unit(t) in ("api", "app")),
]


@pytest.mark.parametrize(("kind", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_rules(kind, forbidden):
    broken = [f"{m}:{line} imports {target}" for m, imports in GRAPH.items() if _kind(m) == kind
              for target, line, _ in imports if forbidden(target)]
    assert broken == []


def test_delivery_knows_no_area_and_no_database():
    broken = [f"{m}:{line} imports {target}" for m, imports in GRAPH.items() if unit(m) == "delivery"
              for target, line, _ in imports if unit(target) != "delivery"]
    assert broken == []


def test_public_routes_reach_rows_only_through_services():
    broken = [f"{m}:{line} imports {target}" for m, imports in GRAPH.items() if unit(m) == "tracking"
              for target, line, _ in imports if _kind(target) == "repository" or unit(target) == "db"]
    assert broken == []
