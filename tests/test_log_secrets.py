"""Session ids are credentials: no log call at INFO or above is given one.

An Engine.IO sid lets whoever holds it poll and post as that client, and a recovery pid lets a client
resume a session, so they may appear at DEBUG only. This walks every logging call in the sources.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "aiosio"
LOUD = {"info", "warning", "warn", "error", "exception", "critical"}
SECRET_NAMES = {"id", "sid", "pid", "session_id"}


def _mentions_secret(node: ast.AST) -> str | None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in SECRET_NAMES:
            return ast.unparse(sub)
        if isinstance(sub, ast.Name) and sub.id in SECRET_NAMES:
            return sub.id
    return None


def loud_calls_with_secrets() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOUD
                and isinstance(node.func.value, ast.Name)
                and "log" in node.func.value.id.lower()
            ):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                secret = _mentions_secret(arg)
                if secret is not None:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {secret}")
    return found


def test_no_session_id_in_loud_log_calls() -> None:
    assert loud_calls_with_secrets() == []


def test_the_check_sees_a_leak() -> None:
    tree = ast.parse('logger.warning("session %s gone", socket.id)')
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert _mentions_secret(call.args[1]) == "socket.id"
