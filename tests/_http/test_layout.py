"""The modules of ``aiosio._http`` import each other one way only (imports under TYPE_CHECKING
count too): the HTTP connection knows the WebSocket, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import aiosio._http

PACKAGE = Path(aiosio._http.__file__).parent


def imports_of(path: Path) -> set[str]:
    """The ``aiosio._http`` modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if node.level:  # relative: from .x import y / from . import x
                module = "aiosio._http" + ("." + module if module else "")
            if module == "aiosio._http":
                found.update(f"aiosio._http.{alias.name}" for alias in node.names)
            elif module.startswith("aiosio._http."):
                found.add(module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("aiosio._http."))
    return found


def test_no_import_cycle_in_http_package() -> None:
    graph = {
        f"aiosio._http.{path.stem}": imports_of(path)
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }
    assert "aiosio._http.websocket" in graph["aiosio._http.protocol"]
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting, module])}"
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_websocket_does_not_know_the_http_protocol() -> None:
    source = (PACKAGE / "websocket.py").read_text()
    assert "HttpProtocol" not in source
    assert "aiosio._http.protocol" not in imports_of(PACKAGE / "websocket.py")
