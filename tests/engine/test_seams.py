"""The engine's modules keep to their seams: no import cycle among them (imports under
TYPE_CHECKING count), and no object reaches into another's private members."""

from __future__ import annotations

import ast
from pathlib import Path

import aiosio.engine

ENGINE = Path(aiosio.engine.__file__).parent


def _trees() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text()) for p in sorted(ENGINE.glob("*.py"))}


def _imports(tree: ast.Module, modules: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & modules


def test_no_import_cycles() -> None:
    trees = _trees()
    graph = {name: _imports(tree, set(trees)) - {name} for name, tree in trees.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cyclic = sorted(name for name in graph if reaches(name, name, {name}))
    assert cyclic == []


def test_no_private_reaches() -> None:
    reaches = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                reaches.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert reaches == []
