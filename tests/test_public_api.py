"""The public surface: ``aiosio.__all__`` is honest, and imports only run downward."""

from __future__ import annotations

import ast
from pathlib import Path

import aiosio

SRC = Path(aiosio.__file__).parent


def test_all_names_exist_and_are_documented() -> None:
    for name in aiosio.__all__:
        value = getattr(aiosio, name)
        if isinstance(value, type) or callable(value):
            assert value.__doc__, f"aiosio.{name} has no docstring"


def test_nothing_public_is_left_out_of_all() -> None:
    public = {name for name in vars(aiosio) if not name.startswith("_") and name != "annotations"}
    modules = {name for name in public if type(getattr(aiosio, name)).__name__ == "module"}
    assert public - modules == set(aiosio.__all__) - {"__version__"}


def _imports(path: Path) -> set[str]:
    """The aiosio modules a file imports, as dotted names relative to the package."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(SRC.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "aiosio":
                found.update(f"aiosio.{alias.name}" for alias in node.names)
            else:
                found.add(module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "aiosio" or m.startswith("aiosio.")}


# Which top-level parts of the package each layer may import (besides the shared helpers).
ALLOWED = {
    "protocol": {"protocol"},
    "engine": {"protocol", "engine", "serve", "asgi", "_http"},
    "_http": {"_http", "engine", "protocol"},
    "_h3": {"_h3", "engine", "protocol"},
    "adapters": {"protocol", "adapters"},
    "server": {
        "protocol",
        "engine",
        "server",
        "adapters",
        "serve",
        "asgi",
        "webtransport",
        "routes",
    },
    "admin": {"protocol", "engine", "server", "adapters", "routes", "admin"},
    "client": {"protocol", "client"},
    "sync": {"client", "protocol", "sync"},
    "testing": {"protocol", "engine", "server", "client", "testing"},
}
SHARED = {"_json", "_logging", "exceptions", "_handlers", "_loop", "_typed"}


def test_imports_run_downward() -> None:
    for layer, allowed in ALLOWED.items():
        for path in (SRC / layer).rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if len(parts) < 2:
                    raise AssertionError(f"{path} imports the aiosio package root")
                top = parts[1]
                assert top in allowed | SHARED, f"{path.relative_to(SRC)} imports {module}"


def test_client_never_imports_the_server_side() -> None:
    for path in (SRC / "client").rglob("*.py"):
        for module in _imports(path):
            assert not module.startswith(("aiosio.server", "aiosio.engine", "aiosio.adapters"))
