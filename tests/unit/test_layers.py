"""The import structure holds: the contracts of .importlinter and no import cycle among
servicecenter, bot and speech (imports inside functions count), so CI fails when a change
breaks the layering described in docs/architecture.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Set

import grimp

from servicecenter import PROJECT_ROOT

PACKAGES = ("servicecenter", "bot", "speech")


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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
                    found.append(sorted(component))
    return found


def _component(module: str) -> str:
    """A package's unit for package cycles: servicecenter.<part>, bot, speech."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "servicecenter" else parts[0]


def _module_edges(graph: grimp.ImportGraph, modules: Iterable[str]) -> Dict[str, Set[str]]:
    edges: Dict[str, Set[str]] = {}
    for module in modules:
        edges[module] = {
            imported for imported in graph.find_modules_directly_imported_by(module)
            if imported.split(".")[0] in PACKAGES and not module.startswith(imported + ".")
        }
    return edges


def test_no_module_or_package_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    modules = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    edges = _module_edges(graph, modules)
    assert _cycles(edges) == []
    packages: Dict[str, Set[str]] = {}
    for importer, imported in edges.items():
        for target in imported:
            if _component(importer) != _component(target):
                packages.setdefault(_component(importer), set()).add(_component(target))
                packages.setdefault(_component(target), set())
    assert _cycles(packages) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
