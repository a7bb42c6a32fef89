"""The public surface: ``aiosio.__all__`` is honest, and imports only run downward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


# Which top-level parts of the package each layer may import (besides the shared helpers). The hosts
# (serve, asgi, _http) sit above engine/ and server/: ``listen()`` and ``asgi_app()`` find them through
# aiosio.engine.hosting, where they register themselves.
ALLOWED = {
    "protocol": {"protocol"},
    "engine": {"protocol", "engine"},
    "_http": {"_http", "engine", "protocol"},
    "_h3": {"_h3", "engine", "protocol"},
    "adapters": {"protocol", "adapters"},
    "server": {"protocol", "engine", "server", "adapters", "routes"},
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


def test_hosts_are_registered() -> None:
    """The entry points that do not import the hosts find them (registered on import of aiosio)."""
    from aiosio.asgi import ASGIApp
    from aiosio.engine import hosting

    assert hosting.asgi_host() is ASGIApp
    assert hosting.embedded_host().__module__ == "aiosio.serve"


# -- import cycles within a package --------------------------------------------------------------------


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, base: Path) -> bool:
    where = base.joinpath(*dotted.split("."))
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def _module_imports(path: Path, base: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file: at the top, in a function, or under
    ``TYPE_CHECKING`` (a cycle hidden from the interpreter is still a cycle between the modules).
    ``from package import name`` depends on the submodule ``name`` when there is one, else on the
    package."""
    tree = ast.parse(path.read_text())
    module = _module_name(path, base)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package[: len(package) - node.level + 1]
                source = ".".join(parent + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if _is_module(submodule, base) else source)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    found.discard(module)
    return found


def _cycle(package: Path, base: Path | None = None) -> list[str] | None:
    """One import cycle among the modules of the package directory ``package``, or ``None``;
    modules are named from ``base`` (default: the package's parent), so that absolute imports
    (``aiosio.server.x`` from ``src/``) are seen as well as relative ones."""
    base = package.parent if base is None else base
    modules = {_module_name(path, base): path for path in package.rglob("*.py")}
    graph = {
        name: sorted(_module_imports(path, base) & modules.keys()) for name, path in modules.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in graph[name]:
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target, path)) is not None:
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name, [])) is not None:
            return found
    return None


# The packages without import cycles among their modules; each must stay so. server/ is not among
# them: its Connection and Namespace are typed with the Server they belong to (``socket.nsp.server``
# is a precisely typed ``Server`` for users), under TYPE_CHECKING only; nothing at run time.
ACYCLIC = [
    "_h3",
    "_http",
    "adapters",
    "admin",
    "client",
    "engine",
    "protocol",
    "sync",
    "testing",
]


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_cycles_within_a_package(package: str) -> None:
    cycle = _cycle(SRC / package, SRC.parent)
    assert cycle is None, f"import cycle in aiosio.{package}: {' -> '.join(cycle or ())}"


def test_the_cycle_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A cycle through a ``TYPE_CHECKING`` import or a function-level import is found; a package
    importing its own submodules is not a cycle."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import a, b\n")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    )
    (package / "b.py").write_text("def make():\n    from pkg.a import A\n")
    assert _cycle(package) == ["pkg.a", "pkg.b", "pkg.a"]
    (package / "b.py").write_text("import json\n")
    assert _cycle(package) is None
    (package / "b.py").write_text("from pkg import a\n")
    assert _cycle(package) == ["pkg.a", "pkg.b", "pkg.a"]


# The one reach the package makes into another object's private members: aioquic keeps a connection's
# streams private, and the WebTransport host reads how much of a stream went out from there.
THIRD_PARTY_REACHES = {"_h3/protocol.py: self._quic._streams"}


def test_no_object_reaches_into_another_objects_private_members() -> None:
    """``x._name`` only where ``x`` is ``self``, ``cls`` or ``super()``: objects meet through
    public methods and callbacks (the engine's transports report through ``TransportEvents``, the
    adapters through the ``AdapterSocket`` / ``AdapterNamespace`` protocols)."""
    reaches = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            owner = node.value
            if node.attr.startswith("__") or (
                isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            ):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            reaches.add(f"{path.relative_to(SRC)}: {ast.unparse(node)}")
    assert reaches == THIRD_PARTY_REACHES
