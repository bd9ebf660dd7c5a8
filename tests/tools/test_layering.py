"""The import structure, read from the source (ast): tool modules stand alone, layers point down, no circles.

Layers: server -> tools -> providers; sandbox (the emulators) sits beside the product and never imports it
back. A tool module is ``tools/<name>.py`` with a ``NAME`` and a ``register``: what tools share lives in
``tools/support/`` (or ``tools/sources/``), never in another tool module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "tools", "providers", "sandbox")  # the real folders; casebridge/ links to them


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, casebridge.<...>
    target: str  # the module imported (the package when a name is imported from its __init__)
    line: int
    type_checking: bool  # inside ``if TYPE_CHECKING:``
    top_level: bool  # at module level (also inside try/if), not in a function or class body


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["casebridge", *parts])


@cache
def modules() -> dict[str, Path]:
    found = {"casebridge": ROOT / "casebridge" / "__init__.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool) -> Iterator[str]:
    known = modules()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name not in known and "." in name:  # import a.b.c of a name that is no module: its module
                name = name.rsplit(".", 1)[0]
            yield name
        return
    base = node.module or ""
    if node.level:
        anchor = source.split(".") if is_package else source.split(".")[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join([*anchor, *([base] if base else [])])
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in known else base


def imports_of(module: str) -> list[Import]:
    """Every ``casebridge`` import in ``module``'s source, wherever it stands."""
    path = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, type_checking: bool, top_level: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, module, is_package):
                if target == "casebridge" or target.startswith("casebridge."):
                    found.append(Import(module, target, node.lineno, type_checking, top_level))
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True, top_level)
            for child in node.orelse:
                visit(child, type_checking, top_level)
            return
        nested = top_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking, nested)

    for statement in tree.body:
        visit(statement, False, True)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "casebridge"


def tool_modules() -> set[str]:
    """``casebridge.tools.<name>`` modules that define ``NAME`` and ``register``: one MCP tool each."""
    tools = set()
    for module, path in modules().items():
        if module.count(".") != 2 or layer(module) != "tools" or path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if "NAME" in names and "register" in functions:
            tools.add(module)
    return tools


def _where(i: Import) -> str:
    return f"{modules()[i.source].relative_to(ROOT)}:{i.line} imports {i.target}"


def test_the_tool_modules_are_found() -> None:
    expected = {"search_cases", "get_case", "order_case", "cancel_case", "generate_report", "update_case"}
    assert {f"casebridge.tools.{t}" for t in expected} <= tool_modules()


def test_no_tool_module_imports_another() -> None:
    tools = tool_modules()
    bad = [_where(i) for m in sorted(tools) for i in imports_of(m) if i.target in tools and i.target != m]
    assert not bad, "tool modules importing tool modules (move what they share to tools/support/):\n" + "\n".join(bad)


# What each layer must never import (whatever the import's position, TYPE_CHECKING included).
FORBIDDEN = {
    "providers": ("tools", "server"),
    "sandbox": ("tools", "server"),
    "tools": ("server",),
}


def test_layers_import_only_downwards() -> None:
    bad = [
        _where(i) for m in sorted(modules()) for i in imports_of(m) if layer(i.target) in FORBIDDEN.get(layer(m), ())
    ]
    assert not bad, "upward imports (server -> tools -> providers; sandbox imports neither):\n" + "\n".join(bad)


def import_graph() -> dict[str, set[str]]:
    """Module -> the casebridge modules it imports at run time: top level or in a function, not TYPE_CHECKING.

    An edge goes to the module named (``from casebridge.tools import consent``: tools.consent), not to the
    packages above it, whose ``__init__`` Python runs first: those are counted where they import something.
    """
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for m in modules():
        graph[m] |= {i.target for i in imports_of(m) if not i.type_checking and i.target != m}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted, smallest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
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

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(found, key=lambda c: (len(c), c))


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"    {a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return f"  circle of {len(component)}: {', '.join(component)}\n" + "\n".join(edges)


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_function_level_imports_count_and_type_checking_ones_do_not() -> None:
    edges = imports_of("casebridge.tools.actions")
    assert any(i.target == "casebridge.tools.errors" and not i.top_level for i in edges)  # off_loop's import
    graph = import_graph()
    assert "casebridge.tools.errors" in graph["casebridge.tools.actions"]
    guarded = {i.target for i in imports_of("casebridge.tools.support.refs") if i.type_checking}
    assert "casebridge.tools.sources.certn" in guarded
    assert "casebridge.tools.sources.certn" not in graph["casebridge.tools.support.refs"]


def test_no_import_cycles() -> None:
    """No circle among casebridge modules (run-time imports, top level or in functions; TYPE_CHECKING aside).

    On failure the message lists every circle that remains, with the edges that close it.
    """
    graph = import_graph()
    found = cycles(graph)
    assert not found, f"{len(found)} import circle(s) remain:\n" + "\n".join(_describe(c, graph) for c in found)
