"""The house rules of docs/architecture.md, checked on the source (static, no imports run).

* no module over 800 lines, except ``spec/katib.py`` (Katib's whole document model);
* no import cycle among module-level imports (imports inside functions and under
  ``TYPE_CHECKING`` are how a module says "later", and are left out);
* algorithms, early stoppers, collectors and executors import neither the storage nor the
  controller nor the ledger, not even inside a function: they are handed what they need.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tunery"
MAX_LINES = 800
LONG_ALLOWED = {"tunery.spec.katib"}
PURE_ROOMS = ("tunery.suggest", "tunery.stopping", "tunery.collect", "tunery.execute")
FORBIDDEN = ("tunery.storage", "tunery.controller", "tunery.ledger", "tunery.client", "tunery.cli")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module an import of ``name`` loads last (its longest prefix that is a module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str, *, top_level_only: bool) -> set[str]:
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if top_level_only and isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            ):
                continue
            yield child
            yield from walk(child)

    for node in walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            for alias in node.names:
                full = f"{name}.{alias.name}"
                target = _resolve(full) if full in MODULES else _resolve(name)
                if target:
                    found.add(target)
    found.discard(module)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_the_checker_sees_every_module_and_finds_a_cycle() -> None:
    assert {"tunery", "tunery.controller", "tunery.storage.store"} <= set(MODULES)
    assert "tunery.model" in _imports("tunery.controller", top_level_only=True)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_800_lines(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    if module in LONG_ALLOWED:
        return
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job (docs/architecture.md)"


def test_no_import_cycle() -> None:
    graph = {module: _imports(module, top_level_only=True) for module in MODULES}
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if any(m.startswith(room) for room in PURE_ROOMS))
)
def test_algorithms_stoppers_collectors_and_executors_stay_pure(module: str) -> None:
    imported = _imports(module, top_level_only=False)
    bad = sorted(
        name for name in imported if any(name.startswith(forbidden) for forbidden in FORBIDDEN)
    )
    assert bad == [], f"{module} imports {bad}"
